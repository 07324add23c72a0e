"""The rules of a decision, shared by every store backend: which alerts can be decided, what a
decision turns them into, and what the audit log records about it. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from alerting.exceptions import DecisionConflict
from schemas import Alert, AlertStatus, AnalystDecision, AuditAction, DecisionAction

__all__ = ["apply_decision", "audit_details", "check_decidable"]

_DECIDABLE = {AlertStatus.PENDING, AlertStatus.ESCALATED}
_OUTCOME = {
    DecisionAction.CONFIRM: (AlertStatus.CONFIRMED, AuditAction.ALERT_CONFIRMED),
    DecisionAction.DISMISS: (AlertStatus.DISMISSED, AuditAction.ALERT_DISMISSED),
    DecisionAction.ESCALATE: (AlertStatus.ESCALATED, AuditAction.ALERT_ESCALATED),
}


def check_decidable(alert: Alert, decision: AnalystDecision, expected_version: int | None) -> None:
    """Raise `DecisionConflict` unless `decision` may be applied to `alert` as it is now."""
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
    updated = alert.model_copy(
        update={"status": status, "updated_at": decision.decided_at, "version": alert.version + 1}
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
