"""Deciding alerts, one or a whole story, under the same rules for the API and the UI.

The route table (`alerting.authz`) says who may decide at all; the rules here depend on the
alert: only a supervisor decides an escalated alert, an alert held by someone else waits for
them, a decided one stays decided. A story decision applies the decision to every open alert of
the story *through the same rules*, so ticking "whole story" never grants more than deciding
each alert one by one would, and reports what it skipped and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from alerting.accounts import Permission, User, allows
from alerting.exceptions import AlertingError, DecisionConflict
from alerting.store import AlertQuery, AlertStore
from alerting.store.decisions import holder
from schemas import Alert, AlertStatus, AnalystDecision, AuditAction

__all__ = ["SkipReason", "StoryOutcome", "SupervisorOnly", "decide_alert", "decide_story"]

_OPEN = (AlertStatus.PENDING, AlertStatus.ESCALATED)
# A story bigger than this is decided in pages of this size (each alert still checked alone).
_STORY_PAGE = 200


class SkipReason(StrEnum):
    SUPERVISOR_ONLY = "supervisor_only"  # escalated, and the decider is not a supervisor
    HELD_BY_OTHER = "held_by_other"  # another analyst's live claim
    ALREADY_DECIDED = "already_decided"
    CONFLICT = "conflict"  # changed between reading and deciding


class SupervisorOnly(AlertingError):
    """An escalated alert, and the account's role may not decide escalated alerts."""


@dataclass
class StoryOutcome:
    applied: list[str] = field(default_factory=list)
    skipped: list[tuple[str, SkipReason]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, reason in self.skipped:
            out[reason.value] = out.get(reason.value, 0) + 1
        return out


def _supervisor_only(user: User, alert: Alert) -> bool:
    return alert.status is AlertStatus.ESCALATED and not allows(
        user.role, Permission.DECIDE_ESCALATED
    )


def decide_alert(
    store: AlertStore,
    user: User,
    alert: Alert,
    decision: AnalystDecision,
    expected_version: int | None = None,
) -> Alert:
    """Apply `decision` (made by `user`) to `alert`: `SupervisorOnly`, or the store's
    `DecisionConflict`, or the alert after it."""
    if decision.analyst != user.username:
        raise ValueError("a decision is recorded under the account that made it")
    if _supervisor_only(user, alert):
        raise SupervisorOnly(f"{alert.alert_id} is escalated: a supervisor decides it")
    return store.decide(decision, expected_version=expected_version)


def _skip_reason(user: User, alert: Alert, decision: AnalystDecision) -> SkipReason | None:
    if alert.status not in _OPEN:
        return SkipReason.ALREADY_DECIDED
    if _supervisor_only(user, alert):
        return SkipReason.SUPERVISOR_ONLY
    current = holder(alert, decision.decided_at)
    if current is not None and current != user.username:
        return SkipReason.HELD_BY_OTHER
    return None


def decide_story(
    store: AlertStore, user: User, decided: Alert, decision: AnalystDecision
) -> StoryOutcome:
    """After `decision` was applied to `decided`, the same decision for each other open alert
    of its story that `user` could decide alone; the rest are reported, with the reason."""
    outcome = StoryOutcome(applied=[decided.alert_id])
    cursor: str | None = None
    while True:
        page = store.list_alerts(
            AlertQuery(cluster_id=decided.cluster_id, limit=_STORY_PAGE, cursor=cursor)
        )
        for other in page.alerts:
            if other.alert_id == decided.alert_id or other.status not in _OPEN:
                continue
            reason = _skip_reason(user, other, decision)
            if reason is None:
                try:
                    store.decide(
                        decision.model_copy(update={"alert_id": other.alert_id}),
                        expected_version=other.version,
                    )
                except DecisionConflict:
                    reason = SkipReason.CONFLICT
            if reason is None:
                outcome.applied.append(other.alert_id)
            else:
                outcome.skipped.append((other.alert_id, reason))
        cursor = page.next_cursor
        if cursor is None:
            break
    store.record_audit(
        user.username,
        AuditAction.STORY_DECIDED,
        f"story:{decided.cluster_id}",
        decision.reason,
        {
            "action": decision.action.value,
            "applied": outcome.applied,
            "skipped": [{"alert_id": a, "reason": r.value} for a, r in outcome.skipped],
        },
    )
    return outcome
