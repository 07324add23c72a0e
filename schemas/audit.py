"""The append-only audit log: who did what, when and why."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime

__all__ = [
    "GENESIS_HASH",
    "MIN_KEY_BYTES",
    "AuditAction",
    "AuditEvent",
    "ChainBroken",
    "chain_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
# Keys for HMACs we rely on (audit chain, pseudonyms): at least the hash's own output size.
MIN_KEY_BYTES = 32


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
    AUDIT_VIEWED = "audit.viewed"
    DIGEST_VIEWED = "digest.viewed"
    USER_TOKEN_ISSUED = "user.token_issued"  # noqa: S105 (an event name)
    USER_TOKEN_REVOKED = "user.token_revoked"  # noqa: S105
    STORY_DECIDED = "story.decided"  # a whole-story decision: what was applied, what skipped
    DELIVERY_SENT = "delivery.sent"
    DELIVERY_FAILED = "delivery.failed"
    DIGEST_SENT = "digest.sent"
    DELIVERY_WITHHELD = "delivery.withheld"  # suppressed repeat, flood-held or not routed
    CLAIM_CREATED = "claim.created"
    CLAIM_UPDATED = "claim.updated"
    CLAIM_PUBLISHED = "claim.published"
    CLAIM_RETIRED = "claim.retired"
    CLAIMS_IMPORTED = "claims.imported"


class AuditEvent(Contract):
    """One audit entry. Entries are chained: `hash` is an HMAC, under a key the store never
    holds, over the entry and the previous hash, so a rewritten or deleted entry breaks every
    hash after it and nobody without the key can re-hash the rest. Truncation of the tail is
    caught by signed checkpoints kept outside the store (`alerting.audit_anchor`)."""

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


class ChainBroken(ValueError):
    """The chain does not verify; `seq` is the first entry that fails."""

    def __init__(self, seq: int, why: str) -> None:
        super().__init__(f"audit log chain broken at entry {seq}: {why}")
        self.seq = seq


def chain_hash(
    key: bytes,
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
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_chain(
    entries: Iterable[tuple[AuditEvent, str]],
    key: bytes,
    signed: Mapping[int, str] | None = None,
) -> int:
    """Check a whole log, oldest first, given each entry with its timestamp exactly as stored
    (the hash covers those characters), and that each entry a checkpoint signed (`signed`:
    seq → hash) is still that entry. Returns the number of entries or raises `ChainBroken`."""
    signed = signed or {}
    prev, count = GENESIS_HASH, 0
    for event, stored_at in entries:
        if event.seq != count + 1:
            raise ChainBroken(count + 1, f"entry {count + 1} is missing (next is {event.seq})")
        if event.prev_hash != prev:
            raise ChainBroken(event.seq, "its link to the previous entry does not match")
        expected = chain_hash(
            key,
            prev,
            seq=event.seq,
            at=stored_at,
            actor=event.actor,
            action=event.action.value,
            target=event.target,
            reason=event.reason,
            details=event.details,
        )
        if not hmac.compare_digest(event.hash, expected):
            raise ChainBroken(event.seq, "its content or key does not match its hash")
        if event.seq in signed and not hmac.compare_digest(event.hash, signed[event.seq]):
            raise ChainBroken(event.seq, "it is not the entry a checkpoint signed: rewritten")
        prev, count = event.hash, count + 1
    return count
