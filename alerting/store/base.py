"""The review store interface: one contract, one real implementation per backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from alerting.exceptions import AuditTampered, StoreError
from classifiers.embedding import PostEmbedding
from schemas import (
    MIN_KEY_BYTES,
    Alert,
    AlertStatus,
    AnalystDecision,
    AuditAction,
    AuditEvent,
    ChainBroken,
    Classification,
    DeadLetter,
    EvidenceKind,
    Label,
    NormalizedPost,
    Platform,
    Severity,
    verify_chain,
)

__all__ = [
    "AlertDetail",
    "AlertPage",
    "AlertQuery",
    "AlertStore",
    "ClaimSighting",
    "DedupSeed",
    "Processed",
    "StoredBatch",
    "checked_audit_key",
    "claim_ids_of",
    "verify_audit_pages",
]


def checked_audit_key(key: bytes) -> bytes:
    """Every backend refuses a weak audit key: a short HMAC key can be guessed offline."""
    if len(key) < MIN_KEY_BYTES:
        raise StoreError(
            f"the audit key must be at least {MIN_KEY_BYTES} bytes (CANHBAO_AUDIT_KEY), got"
            f" {len(key)}"
        )
    return key


AuditPage = Sequence[tuple[AuditEvent, str]]


def verify_audit_pages(
    page: Callable[[int], AuditPage], key: bytes, signed: Mapping[int, str] | None
) -> int:
    """Verify a log read page by page, for every backend: `page(after_seq)` gives the next
    entries, oldest first, each with its timestamp as stored; an empty page is the end."""

    def entries() -> Iterator[tuple[AuditEvent, str]]:
        after = 0
        while batch := page(after):
            yield from batch
            after = batch[-1][0].seq

    try:
        return verify_chain(entries(), key, signed)
    except ChainBroken as exc:
        raise AuditTampered(str(exc)) from None


@dataclass(frozen=True)
class StoredBatch:
    posts: Sequence[NormalizedPost] = ()
    duplicates: Sequence[NormalizedPost] = ()
    classifications: Sequence[Classification] = ()
    alerts: Sequence[Alert] = ()
    dead_letters: Sequence[DeadLetter] = ()
    signatures: dict[str, bytes | None] = field(default_factory=dict)
    embeddings: Mapping[str, PostEmbedding] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertQuery:
    status: AlertStatus | None = None
    label: Label | None = None
    severity: Severity | None = None
    platform: Platform | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None
    text: str | None = None  # words that must all appear in the post (accents optional)
    assignee: str | None = None  # claimed by this analyst (claims may have lapsed)
    cluster_id: str | None = None  # alerts of one story


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]
    next_cursor: str | None


@dataclass(frozen=True)
class AlertDetail:
    alert: Alert
    post: NormalizedPost
    classification: Classification | None
    duplicates: list[NormalizedPost]
    decisions: list[AnalystDecision]


@dataclass(frozen=True)
class Processed:
    """What the store holds of one processed post: enough to publish it again."""

    post: NormalizedPost
    classification: Classification | None
    alert: Alert | None


@dataclass(frozen=True)
class ClaimSighting:
    """A post that repeated a known false claim: matched by the claim stage, or a stored
    duplicate of such a post (a copy seen elsewhere). Counts of posts, never of people."""

    claim_id: str
    post_id: str
    platform: str
    collected_at: datetime
    duplicate: bool


def claim_ids_of(result: Classification | None) -> list[str]:
    """The known false claims a classification's evidence names, in order, once each."""
    if result is None:
        return []
    return list(dict.fromkeys(
        e.claim_id for e in result.evidence if e.kind is EvidenceKind.CLAIM and e.claim_id
    ))  # fmt: skip


@dataclass(frozen=True)
class DedupSeed:
    post_id: str
    content_hash: str
    signature: bytes | None
    cluster_id: str


class AlertStore(Protocol):
    def write_batch(self, batch: StoredBatch) -> int:
        """Store one processed batch atomically and idempotently; return alerts newly queued."""

    def list_alerts(self, query: AlertQuery) -> AlertPage: ...

    def get_alert(self, alert_id: str) -> AlertDetail: ...

    def posts_by_id(self, post_ids: Sequence[str]) -> dict[str, NormalizedPost]:
        """The posts with these ids (those that exist), in one round trip: the queue shows
        each alert's text without one request per row."""

    def embeddings(self, post_ids: Sequence[str]) -> dict[str, PostEmbedding]:
        """The stored embeddings of these posts (those that have one), in one round trip."""

    def processed(self, post_ids: Sequence[str]) -> list[Processed]:
        """The stored posts with these ids, each with its classification and alert (if any),
        in one or two round trips: a replayed batch re-publishes them."""

    def decide(self, decision: AnalystDecision, expected_version: int | None = None) -> Alert:
        """Apply an analyst's decision, or raise `DecisionConflict` without changing anything."""

    def audit_log(
        self, target: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[AuditEvent]: ...

    def claim(
        self, alert_id: str, analyst: str, until: datetime, *, assigned_by: str | None = None
    ) -> Alert:
        """Take the alert for `analyst` until `until` (one analyst per alert). A live claim by
        someone else is a `DecisionConflict`, unless a supervisor assigns (`assigned_by`)."""

    def release(self, alert_id: str, analyst: str) -> Alert:
        """Give the alert back to the queue (its holder, or anyone once the claim lapsed)."""

    def record_audit(
        self,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry that is not an alert decision (logins, account changes, exports)
        to the same hash-chained log."""

    def verify_audit_chain(self, signed: Mapping[int, str] | None = None) -> int:
        """Re-hash the whole audit log under the audit key, and check that each entry in
        `signed` (seq → hash, from checkpoints) is unchanged; return its length or raise
        `AuditTampered` naming the first entry that fails."""

    def audit_head(self) -> tuple[int, str]:
        """(sequence number, hash) of the newest audit entry; (0, GENESIS_HASH) when empty."""

    def claim_sightings(
        self, claim_ids: Sequence[str], since: datetime | None = None, limit: int = 10_000
    ) -> list[ClaimSighting]:
        """The posts (and their stored duplicates) that repeated these claims, collected at or
        after `since`, oldest first, at most `limit`."""

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    def dedup_seeds(self, limit: int) -> Iterator[DedupSeed]:
        """The `limit` most recently collected posts, oldest first, to warm a dedup index
        (order among posts collected at the same instant is unspecified)."""

    def dedup_candidates(
        self, hashes: Sequence[str], bands: Sequence[bytes], limit: int = 1_000
    ) -> list[DedupSeed]:
        """Stored first sightings (not duplicates) whose content hash is one of `hashes` or
        that share a MinHash band (`stream_jobs.dedup.band_keys`) with `bands`: what another
        worker stored that this one's index never saw. Posts stored before bands were kept
        are found by hash only."""

    def counts(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
