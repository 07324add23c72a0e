"""SQLite-only guarantees: transactions across connections and trigger-enforced append-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alerting.exceptions import StoreError
from alerting.store import SQLiteStore
from stream_jobs.pipeline import PipelineContext
from tests.integration.helpers import fill, race_two_deciders

pytestmark = pytest.mark.integration


def test_concurrent_decisions_one_wins(tmp_path: Path, ctx: PipelineContext) -> None:
    path = tmp_path / "race.db"
    first = SQLiteStore(path)
    [alert_id, *_] = fill(first, ctx)
    second = SQLiteStore(path)  # a second connection, as a second API worker would hold
    outcomes = race_two_deciders(first, second, alert_id)
    assert outcomes == ["conflict", "ok"]
    first.close()
    second.close()


def test_audit_log_is_append_only_and_tamper_evident(
    store: SQLiteStore, ctx: PipelineContext
) -> None:
    fill(store, ctx)
    raw = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM audit_log")
    # Someone with file access drops the trigger and rewrites history: the chain shows it.
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("UPDATE audit_log SET reason = 'rewritten' WHERE seq = 1")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="chain broken at entry 1"):
        store.verify_audit_chain()
