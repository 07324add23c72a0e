"""The rules of a decision, shared by every store backend: which alerts can be decided, what a
decision turns them into, and what the audit log records about it. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from alerting.exceptions import DecisionConflict
from schemas import Alert, AlertStatus, AnalystDecision, AuditAction, DecisionAction

__all__ = [
    "ClaimChange",
    "ClaimMethods",
    "apply_claim",
    "apply_decision",
    "audit_details",
    "check_claimable",
    "check_decidable",
    "claim_change",
    "created_audit",
    "holder",
    "release_change",
]

_DECIDABLE = {AlertStatus.PENDING, AlertStatus.ESCALATED}
_OUTCOME = {
    DecisionAction.CONFIRM: (AlertStatus.CONFIRMED, AuditAction.ALERT_CONFIRMED),
    DecisionAction.DISMISS: (AlertStatus.DISMISSED, AuditAction.ALERT_DISMISSED),
    DecisionAction.ESCALATE: (AlertStatus.ESCALATED, AuditAction.ALERT_ESCALATED),
}


def holder(alert: Alert, now: datetime) -> str | None:
    """Who holds the alert now: its assignee while the claim has not lapsed."""
    if alert.assignee and alert.claimed_until and alert.claimed_until > now:
        return alert.assignee
    return None


def check_claimable(alert: Alert, analyst: str, now: datetime, assigned_by: str | None) -> None:
    """One analyst per alert: a live claim by someone else stands, unless a supervisor assigns."""
    if alert.status not in _DECIDABLE:
        raise DecisionConflict(f"{alert.alert_id} is already {alert.status.value}")
    current = holder(alert, now)
    if current is not None and current != analyst and assigned_by is None:
        assert alert.claimed_until is not None
        raise DecisionConflict(
            f"{alert.alert_id} is being reviewed by {current} until"
            f" {alert.claimed_until.isoformat(timespec='minutes')}"
        )


def apply_claim(alert: Alert, analyst: str | None, until: datetime | None, now: datetime) -> Alert:
    """The alert claimed by `analyst` until `until` (or released, with None)."""
    return alert.model_copy(
        update={
            "assignee": analyst,
            "claimed_until": until,
            "updated_at": now,
            "version": alert.version + 1,
        }
    )


def claim_change(
    alert: Alert, analyst: str, until: datetime, now: datetime, assigned_by: str | None
) -> tuple[Alert, AuditAction, str, dict[str, Any]]:
    """A claim (or a supervisor's assignment) as the store applies it: the alert after it, the
    audit action, who did it, and the details to record."""
    check_claimable(alert, analyst, now, assigned_by)
    updated = apply_claim(alert, analyst, until, now)
    details = {"assignee": analyst, "until": until.isoformat(timespec="seconds")}
    if assigned_by is not None:
        return updated, AuditAction.ALERT_ASSIGNED, assigned_by, details
    return updated, AuditAction.ALERT_CLAIMED, analyst, details


def release_change(
    alert: Alert, analyst: str, now: datetime
) -> tuple[Alert, AuditAction, str, dict[str, Any]]:
    current = holder(alert, now)
    if current is not None and current != analyst:
        raise DecisionConflict(f"{alert.alert_id} is held by {current}, not {analyst}")
    return apply_claim(alert, None, None, now), AuditAction.ALERT_RELEASED, analyst, {}


ClaimChange = Callable[[Alert, datetime], tuple[Alert, AuditAction, str, dict[str, Any]]]


class ClaimMethods:
    """`claim` and `release` for every backend, over the one thing a backend must provide:
    `_set_claim`, which applies a change to an alert atomically (or raises DecisionConflict)."""

    def _set_claim(self, alert_id: str, change: ClaimChange) -> Alert:
        raise NotImplementedError

    def claim(
        self, alert_id: str, analyst: str, until: datetime, *, assigned_by: str | None = None
    ) -> Alert:
        return self._set_claim(
            alert_id, lambda alert, now: claim_change(alert, analyst, until, now, assigned_by)
        )

    def release(self, alert_id: str, analyst: str) -> Alert:
        return self._set_claim(alert_id, lambda alert, now: release_change(alert, analyst, now))


def check_decidable(alert: Alert, decision: AnalystDecision, expected_version: int | None) -> None:
    """Raise `DecisionConflict` unless `decision` may be applied to `alert` as it is now."""
    current = holder(alert, decision.decided_at)
    if current is not None and current != decision.analyst:
        raise DecisionConflict(f"{alert.alert_id} is being reviewed by {current}")
    if expected_version is not None and alert.version != expected_version:
        raise DecisionConflict(
            f"{alert.alert_id} is at version {alert.version}, not {expected_version}:"
            " it changed since you loaded it"
        )
    if alert.status not in _DECIDABLE:
        raise DecisionConflict(f"{alert.alert_id} is already {alert.status.value}")
    if decision.action is DecisionAction.ESCALATE and alert.status is not AlertStatus.PENDING:
        raise DecisionConflict(f"{alert.alert_id} is already escalated")


def apply_decision(alert: Alert, decision: AnalystDecision) -> tuple[Alert, AuditAction]:
    """The alert after the decision (next version), and the audit action to record."""
    status, action = _OUTCOME[decision.action]
    # A decision ends the claim: the alert leaves the queue.
    updated = alert.model_copy(
        update={
            "status": status,
            "updated_at": decision.decided_at,
            "version": alert.version + 1,
            "assignee": None,
            "claimed_until": None,
        }
    )
    return updated, action


def audit_details(before: Alert, after: Alert, decision: AnalystDecision) -> dict[str, Any]:
    details: dict[str, Any] = {"from": before.status.value, "to": after.status.value}
    if decision.category is not None:
        details["category"] = decision.category.value
    if decision.destinations:
        details["destinations"] = list(decision.destinations)
    if decision.fact_check_url:
        details["fact_check_url"] = decision.fact_check_url
    return details


def created_audit(alert: Alert) -> dict[str, Any]:
    """The "alert.created" entry of a new alert, as keyword arguments of an append, for every
    backend: the chain hashes exactly these fields."""
    return {
        "actor": f"system:{alert.model_version}",
        "action": AuditAction.ALERT_CREATED,
        "target": alert.alert_id,
        "reason": None,
        "details": {
            "labels": [label.value for label in alert.labels],
            "severity": alert.severity.value,
        },
        "at": alert.created_at.isoformat(),
    }
