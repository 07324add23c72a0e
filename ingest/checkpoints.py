"""Per-source checkpoints: where a source's collection got to, kept in SQLite.

A checkpoint moves only after the bus accepted the posts it covers (`Checkpoint.advanced` is
called by the collector after `PostSink.deliver` returned). Feed validators (ETag,
Last-Modified) and API cursors advance only when a collection completed without failures;
otherwise the next round fetches the same pages again and the seen-ids set keeps what was
already delivered from being delivered twice.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ingest.exceptions import IngestError

__all__ = ["Checkpoint", "CheckpointStore"]

# Enough for days of a busy feed; older ids are also older than any cursor or page we re-read.
MAX_SEEN = 20_000


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
    _seen_set_cache: frozenset[str] | None = PrivateAttr(None)

    def has_seen(self, external_id: str) -> bool:
        return external_id in self._seen_set

    @property
    def _seen_set(self) -> frozenset[str]:
        if self._seen_set_cache is None:
            self._seen_set_cache = frozenset(self.seen)
        return self._seen_set_cache

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
    ) -> Checkpoint:
        """The checkpoint after `delivered` ids were accepted by the bus."""
        now = datetime.now(UTC)
        new = [i for i in delivered if i not in self._seen_set]
        seen = (self.seen + tuple(dict.fromkeys(new)))[-MAX_SEEN:]
        day = now.date().isoformat()
        update: dict[str, object] = {
            "seen": seen,
            "updated_at": now,
            "quota_day": day,
            "quota_used": self.quota_spent(day) + quota_units,
        }
        if complete:
            update |= {"etag": etag, "last_modified": last_modified}
            if cursor is not None:
                update["cursor"] = cursor
        # A new instance, not model_copy: a copy would carry the old seen-set cache along.
        return Checkpoint(**(dict(self) | update))


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
