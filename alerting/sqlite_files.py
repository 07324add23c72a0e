"""Small local SQLite files beside the review store (accounts, the delivery outbox): opened the
same way — WAL, autocommit with explicit transactions, one connection shared under a lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alerting.exceptions import StoreError

__all__ = ["open_local_db"]


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
