"""The append-only audit log: who did what, when and why."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime

__all__ = ["GENESIS_HASH", "AuditAction", "AuditEvent", "chain_hash"]

GENESIS_HASH = "0" * 64


class AuditAction(StrEnum):
    ALERT_CREATED = "alert.created"
    ALERT_CONFIRMED = "alert.confirmed"
    ALERT_DISMISSED = "alert.dismissed"
    ALERT_ESCALATED = "alert.escalated"
    ALERT_CLAIMED = "alert.claimed"
    ALERT_ASSIGNED = "alert.assigned"
    ALERT_RELEASED = "alert.released"
    USER_LOGIN = "user.login"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOGOUT = "user.logout"
    USER_ADDED = "user.added"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_DEACTIVATED = "user.deactivated"
    AUDIT_EXPORTED = "audit.exported"
    DELIVERY_SENT = "delivery.sent"
    DELIVERY_FAILED = "delivery.failed"
    DIGEST_SENT = "digest.sent"
    DELIVERY_WITHHELD = "delivery.withheld"  # suppressed repeat, flood-held or not routed


class AuditEvent(Contract):
    """One audit entry. Entries are chained: `hash` covers the entry and the previous hash, so a
    rewritten or deleted entry breaks every hash after it."""

    schema_version: Literal[1] = 1
    seq: int = Field(ge=1)
    at: UtcDatetime
    actor: str = Field(min_length=1, description="analyst name, or 'system:<component>'")
    action: AuditAction
    target: str
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


def chain_hash(
    prev_hash: str,
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    target: str,
    reason: str | None,
    details: dict[str, Any],
) -> str:
    body = json.dumps(
        [prev_hash, seq, at, actor, action, target, reason, details],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
