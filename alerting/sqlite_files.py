"""Small local SQLite files beside the review store (accounts, the delivery outbox): opened the
same way — WAL, autocommit with explicit transactions, one connection shared under a lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alerting.exceptions import StoreError

__all__ = ["immediate_transaction", "open_local_db"]


def open_local_db(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """Open (creating) `path` with `schema` applied; `StoreError` naming `what` if it fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the {what} {path}: {exc}") from exc
    return db


@contextmanager
def immediate_transaction(db: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Cursor]:
    """One write transaction on the shared connection: taken at once (`BEGIN IMMEDIATE`, so
    two writers queue instead of failing at commit), rolled back on any error."""
    with lock:
        cur = db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
