"""The outbox: every delivery the deliverer decided on, and each channel's send, in SQLite.

Rows are keyed by `delivery_id` (alert × destination), so replanning after a crash inserts
nothing twice; the audit cursor moves in the same transaction as the rows it produced. A send
is retried with backoff until its channel accepts it or it is marked failed (kept, counted,
and shown: a dead letter, not a silent drop).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from alerting.sqlite_files import immediate_transaction, open_local_db

__all__ = ["DeliveryStatus", "Outbox", "PlannedDelivery", "Send"]


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # channels still sending
    DELIVERED = "delivered"
    SUPPRESSED = "suppressed"  # the story already went to this destination in the window
    HELD = "held"  # over the flood cap: goes out in the next summary
    NOT_ROUTED = "not_routed"  # no rule allows this destination for this alert
    FAILED = "failed"  # a channel gave up: needs an operator


_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    message TEXT NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_story ON deliveries (destination, cluster_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_recent ON deliveries (destination, created_at);
CREATE TABLE IF NOT EXISTS sends (
    delivery_id TEXT NOT NULL REFERENCES deliveries(delivery_id),
    channel INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT,
    sent_at REAL,
    PRIMARY KEY (delivery_id, channel)
);
CREATE INDEX IF NOT EXISTS sends_due ON sends (status, next_at);
"""


@dataclass(frozen=True)
class PlannedDelivery:
    delivery_id: str
    destination: str
    cluster_id: str
    status: DeliveryStatus
    note: str | None
    message: dict[str, Any]
    channels: int


@dataclass(frozen=True)
class Send:
    delivery_id: str
    channel: int
    attempts: int
    destination: str
    message: dict[str, Any]


class Outbox:
    def __init__(self, path: Path) -> None:
        self._db = open_local_db(path, _SCHEMA, "outbox")
        self._lock = threading.Lock()

    def _tx(self) -> AbstractContextManager[sqlite3.Cursor]:
        return immediate_transaction(self._db, self._lock)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @property
    def audit_cursor(self) -> int:
        rows = self._query("SELECT value FROM state WHERE key = 'audit_cursor'")
        return int(rows[0][0]) if rows else 0

    def record_plan(self, planned: Sequence[PlannedDelivery], cursor: int, now: float) -> int:
        """Insert new deliveries (existing ids are left alone) and move the cursor, atomically.
        Returns how many were new."""
        new = 0
        with self._tx() as cur:
            for d in planned:
                cur.execute(
                    "INSERT OR IGNORE INTO deliveries (delivery_id, destination, cluster_id,"
                    " status, note, message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        d.delivery_id,
                        d.destination,
                        d.cluster_id,
                        d.status.value,
                        d.note,
                        json.dumps(d.message, ensure_ascii=False),
                        now,
                    ),
                )
                if cur.rowcount and d.status is DeliveryStatus.PENDING:
                    cur.executemany(
                        "INSERT INTO sends (delivery_id, channel, status, next_at)"
                        " VALUES (?, ?, 'pending', ?)",
                        [(d.delivery_id, c, now) for c in range(d.channels)],
                    )
                new += cur.rowcount
            cur.execute(
                "INSERT INTO state (key, value) VALUES ('audit_cursor', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(cursor),),
            )
        return new

    def story_sent_since(self, destination: str, cluster_id: str, since: float) -> str | None:
        rows = self._query(
            "SELECT delivery_id FROM deliveries WHERE destination = ? AND cluster_id = ?"
            " AND created_at >= ? AND status IN ('pending', 'delivered') LIMIT 1",
            (destination, cluster_id, since),
        )
        return rows[0][0] if rows else None

    def sent_since(self, destination: str, since: float) -> int:
        rows = self._query(
            "SELECT count(*) FROM deliveries WHERE destination = ? AND created_at >= ?"
            " AND status IN ('pending', 'delivered') AND delivery_id NOT LIKE 'dl_summary%'",
            (destination, since),
        )
        return int(rows[0][0])

    def held(self, destination: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._query(
            "SELECT delivery_id, message FROM deliveries WHERE destination = ? AND status = 'held'"
            " ORDER BY created_at",
            (destination,),
        )
        return [(r[0], json.loads(r[1])) for r in rows]

    def release_held(self, delivery_ids: Sequence[str], summary_id: str) -> None:
        with self._tx() as cur:
            cur.executemany(
                "UPDATE deliveries SET status = 'suppressed', note = ? WHERE delivery_id = ?",
                [(f"sent in summary {summary_id}", d) for d in delivery_ids],
            )

    def due(self, now: float, limit: int = 100) -> list[Send]:
        rows = self._query(
            "SELECT s.delivery_id, s.channel, s.attempts, d.destination, d.message FROM sends s"
            " JOIN deliveries d USING (delivery_id)"
            " WHERE s.status = 'pending' AND s.next_at <= ? ORDER BY s.next_at LIMIT ?",
            (now, limit),
        )
        return [Send(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def mark_sent(self, send: Send, now: float) -> bool:
        """Mark one channel's send done; True when that completed the delivery."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE sends SET status = 'sent', sent_at = ?, attempts = attempts + 1"
                " WHERE delivery_id = ? AND channel = ?",
                (now, send.delivery_id, send.channel),
            )
            left = int(
                cur.execute(
                    "SELECT count(*) FROM sends WHERE delivery_id = ? AND status != 'sent'",
                    (send.delivery_id,),
                ).fetchone()[0]
            )
            if left == 0:
                cur.execute(
                    "UPDATE deliveries SET status = 'delivered', delivered_at = ?"
                    " WHERE delivery_id = ?",
                    (now, send.delivery_id),
                )
        return left == 0

    def mark_retry(self, send: Send, error: str, next_at: float) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE sends SET attempts = attempts + 1, last_error = ?, next_at = ?"
                " WHERE delivery_id = ? AND channel = ?",
                (error[:1000], next_at, send.delivery_id, send.channel),
            )

    def mark_failed(self, send: Send, error: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE sends SET status = 'failed', attempts = attempts + 1, last_error = ?"
                " WHERE delivery_id = ? AND channel = ?",
                (error[:1000], send.delivery_id, send.channel),
            )
            cur.execute(
                "UPDATE deliveries SET status = 'failed', note = ? WHERE delivery_id = ?",
                (error[:1000], send.delivery_id),
            )

    def deliveries(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT delivery_id, destination, status, note, created_at, delivered_at"
            " FROM deliveries ORDER BY created_at DESC LIMIT ?",
            (limit,),
        )
        keys = ("delivery_id", "destination", "status", "note", "created_at", "delivered_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def counts(self) -> dict[str, int]:
        return {
            r[0]: int(r[1])
            for r in self._query("SELECT status, count(*) FROM deliveries GROUP BY status")
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()
