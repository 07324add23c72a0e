"""Signed checkpoints of the audit log's head, kept outside the store.

The keyed chain (`schemas.audit.chain_hash`) stops anyone without the audit key from rewriting
an entry and re-hashing the rest, but deleting the newest entries leaves a shorter chain that
still verifies. So after every write that appends to the log, the head (sequence number, hash)
is signed with the audit key and appended to a checkpoint file that lives apart from the store
(its own volume, or shipped elsewhere), and logged. `verify_audit` then checks the chain and that
every checkpoint is still in it: a log shorter than a checkpoint was truncated; an entry whose
hash differs from a checkpoint's was rewritten.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alerting.exceptions import AuditTampered, StoreError
from alerting.store.base import (
    AlertDetail,
    AlertPage,
    AlertQuery,
    AlertStore,
    ClaimSighting,
    DedupSeed,
    Processed,
    StoredBatch,
    checked_audit_key,
)
from classifiers.embedding import PostEmbedding
from schemas import (
    Alert,
    AnalystDecision,
    AuditAction,
    AuditEvent,
    DeadLetter,
    NormalizedPost,
    utc_now,
)

__all__ = [
    "AnchoredStore",
    "AuditReport",
    "AuditTampered",
    "Checkpoint",
    "CheckpointLog",
    "verify_audit",
]

log = logging.getLogger(__name__)

_FORMAT = "canhbao-audit-checkpoint/1"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    signature: str

    @staticmethod
    def sign(key: bytes, seq: int, digest: str, at: str) -> str:
        body = f"{_FORMAT}\x1f{seq}\x1f{digest}\x1f{at}".encode()
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.signature, self.sign(key, self.seq, self.hash, self.at))


class CheckpointLog:
    """An append-only JSON-lines file of signed heads. One line per head that changed; each line
    is written with O_APPEND in one call, so processes sharing the file do not interleave."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = checked_audit_key(key)
        self._last_seq = -1
        self._lock = threading.Lock()

    def record(self, seq: int, digest: str) -> Checkpoint | None:
        """Sign and append the head, unless this process recorded it already."""
        with self._lock:
            if seq == self._last_seq or seq == 0:
                return None
            at = utc_now().isoformat(timespec="seconds")
            point = Checkpoint(seq, digest, at, Checkpoint.sign(self._key, seq, digest, at))
            line = json.dumps(
                {"format": _FORMAT, "seq": seq, "hash": digest, "at": at, "sig": point.signature}
            )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise StoreError(f"cannot write audit checkpoint to {self.path}: {exc}") from exc
            self._last_seq = seq
        # The log is the second copy: shipped off the machine, it outlives the file.
        log.info("audit checkpoint", extra={"seq": seq, "hash": digest, "at": at, "sig": line})
        return point

    def read(self) -> list[Checkpoint]:
        """Every checkpoint, each signature checked; `AuditTampered` names a bad line."""
        if not self.path.exists():
            return []
        points = []
        for number, line in enumerate(self.path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                point = Checkpoint(int(raw["seq"]), str(raw["hash"]), str(raw["at"]), raw["sig"])
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditTampered(
                    f"{self.path}:{number}: unreadable checkpoint ({exc})"
                ) from None
            if not point.valid(self._key):
                raise AuditTampered(f"{self.path}:{number}: checkpoint signature does not match")
            points.append(point)
        return points


@dataclass(frozen=True, slots=True)
class AuditReport:
    entries: int
    checkpoints: int
    latest: Checkpoint | None


def verify_audit(store: AlertStore, checkpoints: CheckpointLog) -> AuditReport:
    """Every checkpoint's signature, then the chain under the key with each entry a checkpoint
    signed checked as the walk passes it (one pass), then truncation. Raises `AuditTampered`."""
    points = checkpoints.read()
    signed: dict[int, str] = {}
    for point in points:
        if signed.setdefault(point.seq, point.hash) != point.hash:
            raise AuditTampered(f"two checkpoints disagree about entry {point.seq}")
    count = store.verify_audit_chain(signed)
    latest = max(points, key=lambda p: p.seq, default=None)
    if latest is not None and latest.seq > count:
        raise AuditTampered(
            f"the audit log has {count} entries, but a checkpoint at {latest.at} saw entry"
            f" {latest.seq}: entries were deleted from the end"
        )
    return AuditReport(count, len(points), latest)


class AnchoredStore:
    """Any `AlertStore`, with the audit head checkpointed after every write that appends to
    the log. One wrapper for every backend, so no backend can forget it."""

    def __init__(self, store: AlertStore, checkpoints: CheckpointLog) -> None:
        self.inner = store
        self.checkpoints = checkpoints

    def _anchor(self) -> None:
        self.checkpoints.record(*self.inner.audit_head())

    # writes that append to the audit log -------------------------------------------------

    def write_batch(self, batch: StoredBatch) -> int:
        queued = self.inner.write_batch(batch)
        if batch.alerts:
            self._anchor()
        return queued

    def decide(self, decision: AnalystDecision, expected_version: int | None = None) -> Alert:
        alert = self.inner.decide(decision, expected_version)
        self._anchor()
        return alert

    def claim(
        self, alert_id: str, analyst: str, until: datetime, *, assigned_by: str | None = None
    ) -> Alert:
        alert = self.inner.claim(alert_id, analyst, until, assigned_by=assigned_by)
        self._anchor()
        return alert

    def release(self, alert_id: str, analyst: str) -> Alert:
        alert = self.inner.release(alert_id, analyst)
        self._anchor()
        return alert

    def record_audit(
        self,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.inner.record_audit(actor, action, target, reason, details)
        self._anchor()

    # reads --------------------------------------------------------------------------------

    def list_alerts(self, query: AlertQuery) -> AlertPage:
        return self.inner.list_alerts(query)

    def get_alert(self, alert_id: str) -> AlertDetail:
        return self.inner.get_alert(alert_id)

    def posts_by_id(self, post_ids: Sequence[str]) -> dict[str, NormalizedPost]:
        return self.inner.posts_by_id(post_ids)

    def embeddings(self, post_ids: Sequence[str]) -> dict[str, PostEmbedding]:
        return self.inner.embeddings(post_ids)

    def processed(self, post_ids: Sequence[str]) -> list[Processed]:
        return self.inner.processed(post_ids)

    def audit_log(
        self, target: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[AuditEvent]:
        return self.inner.audit_log(target, after_seq, limit)

    def verify_audit_chain(self, signed: Mapping[int, str] | None = None) -> int:
        return self.inner.verify_audit_chain(signed)

    def audit_head(self) -> tuple[int, str]:
        return self.inner.audit_head()

    def claim_sightings(
        self, claim_ids: Sequence[str], since: datetime | None = None, limit: int = 10_000
    ) -> list[ClaimSighting]:
        return self.inner.claim_sightings(claim_ids, since, limit)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return self.inner.dead_letters(limit)

    def dedup_seeds(self, limit: int) -> Iterator[DedupSeed]:
        return self.inner.dedup_seeds(limit)

    def dedup_candidates(
        self, hashes: Sequence[str], bands: Sequence[bytes], limit: int = 1_000
    ) -> list[DedupSeed]:
        return self.inner.dedup_candidates(hashes, bands, limit)

    def counts(self) -> dict[str, Any]:
        return self.inner.counts()

    def close(self) -> None:
        self.inner.close()
