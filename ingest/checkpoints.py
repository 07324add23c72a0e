"""Per-source checkpoints: where a source's collection got to, kept in SQLite.

A checkpoint moves only after the bus accepted the posts it covers (`Checkpoint.advanced` is
called by the collector after `PostSink.deliver` returned). Feed validators (ETag,
Last-Modified) and API cursors advance only when a collection completed without failures;
otherwise the next round fetches the same pages again and the seen-ids set keeps what was
already delivered from being delivered twice.

A URL that failed for good-looking reasons (404, too large, a redirect loop) is not fetched
again every round: it is deferred with a growing pause (`Deferral`), retried when due — sites
do publish a feed item before its page — and given up after `MAX_DEFERRALS` tries, when the
collector writes it to its dead letters and marks it seen.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ingest.exceptions import IngestError

__all__ = ["MAX_DEFERRALS", "Checkpoint", "CheckpointStore", "Deferral"]

# Enough for days of a busy feed; older ids are also older than any cursor or page we re-read.
MAX_SEEN = 20_000
# A URL failing for good is tried this many times, first again after `DEFERRAL_BASE`, each
# pause twice the one before (1 h, 2 h, 4 h, 8 h): a day and a half, then given up.
MAX_DEFERRALS = 5
DEFERRAL_BASE = timedelta(hours=1)
MAX_DEFERRED = 2_000


class Deferral(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    reason: str
    attempts: int
    retry_at: datetime


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    seen: tuple[str, ...] = ()
    updated_at: datetime | None = None
    # Platform quota spent on `quota_day` (UTC date; YouTube resets at Pacific midnight, so
    # this errs on the side of spending a little less).
    quota_day: str | None = None
    quota_used: int = 0
    deferred: tuple[Deferral, ...] = ()
    _seen_set_cache: frozenset[str] | None = PrivateAttr(None)
    _deferred_cache: dict[str, Deferral] | None = PrivateAttr(None)

    def has_seen(self, external_id: str) -> bool:
        return external_id in self._seen_set

    @property
    def _seen_set(self) -> frozenset[str]:
        if self._seen_set_cache is None:
            self._seen_set_cache = frozenset(self.seen)
        return self._seen_set_cache

    def deferral(self, url: str) -> Deferral | None:
        if self._deferred_cache is None:
            self._deferred_cache = {d.url: d for d in self.deferred}
        return self._deferred_cache.get(url)

    def attempts(self, url: str) -> int:
        """How often `url` has failed for good so far (0: never deferred)."""
        deferral = self.deferral(url)
        return deferral.attempts if deferral else 0

    def due(self, now: datetime) -> list[Deferral]:
        """Deferred URLs whose pause is over: to be tried again this round."""
        return [d for d in self.deferred if d.retry_at <= now]

    def quota_spent(self, day: str) -> int:
        return self.quota_used if self.quota_day == day else 0

    def advanced(
        self,
        delivered: Iterable[str],
        *,
        complete: bool,
        etag: str | None = None,
        last_modified: str | None = None,
        cursor: str | None = None,
        quota_units: int = 0,
        deferred: Iterable[tuple[str, str]] = (),
        now: datetime | None = None,
    ) -> Checkpoint:
        """The checkpoint after `delivered` ids were accepted by the bus, and `deferred`
        (url, reason) pairs failed for good this time."""
        now = now or datetime.now(UTC)
        delivered = list(delivered)
        new = [i for i in delivered if i not in self._seen_set]
        seen = (self.seen + tuple(dict.fromkeys(new)))[-MAX_SEEN:]
        day = now.date().isoformat()
        update: dict[str, object] = {
            "seen": seen,
            "updated_at": now,
            "quota_day": day,
            "quota_used": self.quota_spent(day) + quota_units,
            "deferred": self._deferred_after(set(delivered), dict(deferred), now),
        }
        if complete:
            update |= {"etag": etag, "last_modified": last_modified}
            if cursor is not None:
                update["cursor"] = cursor
        # A new instance, not model_copy: a copy would carry the old caches along.
        return Checkpoint(**(dict(self) | update))

    def _deferred_after(
        self, settled: set[str], failed: dict[str, str], now: datetime
    ) -> tuple[Deferral, ...]:
        kept = {d.url: d for d in self.deferred if d.url not in settled and d.url not in failed}
        for url, reason in failed.items():
            attempts = self.attempts(url) + 1
            pause = DEFERRAL_BASE * 2 ** (attempts - 1)
            kept[url] = Deferral(url=url, reason=reason, attempts=attempts, retry_at=now + pause)
        return tuple(kept.values())[-MAX_DEFERRED:]


class CheckpointStore:
    """SQLite, one row per source. Safe to share between the collector's threads."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints ("
                " source TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise IngestError(f"cannot open the checkpoint store {path}: {exc}") from exc
        self._lock = threading.Lock()

    def load(self, source: str) -> Checkpoint:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM checkpoints WHERE source = ?", (source,)
            ).fetchone()
        return Checkpoint.model_validate_json(row[0]) if row else Checkpoint()

    def save(self, source: str, checkpoint: Checkpoint) -> None:
        stamp = (checkpoint.updated_at or datetime.now(UTC)).isoformat()
        with self._lock:
            self._db.execute(
                "INSERT INTO checkpoints (source, state, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(source) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                (source, checkpoint.model_dump_json(), stamp),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
