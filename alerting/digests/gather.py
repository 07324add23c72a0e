"""Read what a digest needs from the review store (the only I/O of the digest path)."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerting.digests.build import Digest, Period, build_digest
from alerting.store import AlertQuery, AlertStore
from schemas import Alert, AlertStatus, DecisionAction, Label, NormalizedPost

__all__ = ["digest_from_store"]

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


def digest_from_store(store: AlertStore, period: Period, start: datetime, end: datetime) -> Digest:
    """This period's digest, with the previous period's for comparison."""
    length = end - start
    previous = build_digest(period, start - length, start, *_inputs(store, start - length, start))
    return build_digest(period, start, end, *_inputs(store, start, end), previous=previous)
