"""Read what a digest needs from the review store (the only I/O of the digest path)."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerting.claims.library import ClaimLibrary
from alerting.claims.reappearance import reappearances
from alerting.digests.build import Digest, Period, RefutedClaim, build_digest
from alerting.store import AlertQuery, AlertStore
from alerting.views import LOCAL_TZ
from schemas import Alert, AlertStatus, DecisionAction, Label, NormalizedPost

__all__ = ["digest_from_store", "refuted_claims"]

# Alerts decided in a period were raised at most this long before it (older ones are missed).
_DECISION_LOOKBACK = timedelta(days=30)


def _all(store: AlertStore, query: AlertQuery) -> list[Alert]:
    out: list[Alert] = []
    cursor: str | None = None
    while True:
        page = store.list_alerts(
            AlertQuery(query.status, since=query.since, until=query.until, limit=500, cursor=cursor)
        )
        out.extend(page.alerts)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def _inputs(
    store: AlertStore, start: datetime, end: datetime
) -> tuple[
    list[Alert], dict[str, NormalizedPost], dict[str, tuple[Label | None, datetime, str | None]]
]:
    raised = _all(store, AlertQuery(since=start, until=end))
    decided = [
        a
        for status in (AlertStatus.CONFIRMED, AlertStatus.DISMISSED)
        for a in _all(store, AlertQuery(status, since=start - _DECISION_LOOKBACK, until=end))
        if start <= a.updated_at < end
    ]
    alerts = list({a.alert_id: a for a in [*raised, *decided]}.values())
    posts: dict[str, NormalizedPost] = {}
    ids = [a.post_id for a in alerts]
    for i in range(0, len(ids), 500):
        posts.update(store.posts_by_id(ids[i : i + 500]))
    confirmations: dict[str, tuple[Label | None, datetime, str | None]] = {}
    for alert in alerts:
        if alert.status is not AlertStatus.CONFIRMED:
            continue
        for decision in store.get_alert(alert.alert_id).decisions:
            if decision.action is DecisionAction.CONFIRM:
                confirmations[alert.alert_id] = (
                    decision.category,
                    decision.decided_at,
                    decision.fact_check_url,
                )
    return alerts, posts, confirmations


def digest_from_store(
    store: AlertStore,
    period: Period,
    start: datetime,
    end: datetime,
    claims: ClaimLibrary | None = None,
) -> Digest:
    """This period's digest, with the previous period's for comparison, and — with the claim
    library — the published false claims rebutted in the period or seen again in it."""
    length = end - start
    previous = build_digest(period, start - length, start, *_inputs(store, start - length, start))
    digest = build_digest(period, start, end, *_inputs(store, start, end), previous=previous)
    if claims is not None:
        digest.refuted = refuted_claims(store, claims, start, end)
    return digest


def refuted_claims(
    store: AlertStore, claims: ClaimLibrary, start: datetime, end: datetime
) -> list[RefutedClaim]:
    """The published claims rebutted in [start, end) or seen again in it (the period's bounds
    are local midnights, so its sightings are those of its local days)."""
    published = [c for c in claims.published_claims() if c.rebuttal]
    ids = [c.claim_id for c in published]
    first_day, last_day = (start.astimezone(LOCAL_TZ).date(), end.astimezone(LOCAL_TZ).date())
    back = reappearances(store.claim_sightings(ids, since=start), ids,
                         last_day - timedelta(days=1), (last_day - first_day).days)  # fmt: skip
    out = []
    for claim in published:
        assert claim.rebuttal is not None
        seen = back[claim.claim_id]
        rebutted_now = first_day <= claim.rebuttal.published_on < last_day
        if not seen.total and not rebutted_now:
            continue
        out.append(RefutedClaim(
            claim.statement, claim.rating.value, claim.rebuttal.issuer, claim.rebuttal.url,
            claim.rebuttal.published_on, seen.total, tuple(seen.by_platform.most_common()),
        ))  # fmt: skip
    return sorted(out, key=lambda r: (-r.reappeared, r.statement))
