"""SQLite-only guarantees: transactions across connections and trigger-enforced append-only."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from alerting.exceptions import StoreError
from alerting.store import AlertQuery, SQLiteStore
from alerting.store.sqlite import SCHEMA_VERSION
from schemas import utc_now
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch
from tests.conftest import AUDIT_KEY, line
from tests.integration.helpers import fill, race_two_deciders

pytestmark = pytest.mark.integration


def test_concurrent_decisions_one_wins(tmp_path: Path, ctx: PipelineContext) -> None:
    path = tmp_path / "race.db"
    first = SQLiteStore(path, audit_key=AUDIT_KEY)
    [alert_id, *_] = fill(first, ctx)
    second = SQLiteStore(
        path, audit_key=AUDIT_KEY
    )  # a second connection, as a second API worker would hold
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


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
        " reason_code TEXT NOT NULL, origin TEXT NOT NULL, record TEXT NOT NULL);"
        "INSERT INTO dead_letters (at, reason_code, origin, record) VALUES ('t', 'r', 'o', '{}');"
        "PRAGMA user_version=1;"
    )
    old.close()
    store = SQLiteStore(path, audit_key=AUDIT_KEY)
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert check.execute("SELECT letter_key FROM dead_letters").fetchall() == [("legacy-1",)]
    check.close()


def test_a_version_2_store_gets_its_alerts_indexed_for_search(
    tmp_path: Path, ctx: PipelineContext
) -> None:
    path = tmp_path / "v2.db"
    store = SQLiteStore(path, audit_key=AUDIT_KEY)
    ids = fill(store, ctx)
    store.close()
    raw = sqlite3.connect(path)  # as a version-2 store was: no search index
    raw.executescript("DROP TABLE alert_text; PRAGMA user_version=2;")
    raw.close()
    migrated = SQLiteStore(path, audit_key=AUDIT_KEY)
    found = migrated.list_alerts(AlertQuery(text="bac ky"))
    assert sorted(a.alert_id for a in found.alerts) == sorted(ids)
    migrated.close()


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path, audit_key=AUDIT_KEY).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(StoreError, match="newer than this canhbao"):
        SQLiteStore(path, audit_key=AUDIT_KEY)


def test_a_version_3_store_gains_claim_columns(tmp_path: Path, ctx: PipelineContext) -> None:
    path = tmp_path / "v3.db"
    store = SQLiteStore(path, audit_key=AUDIT_KEY)
    [alert_id, *_] = fill(store, ctx)
    store.close()
    raw = sqlite3.connect(path)  # as a version-3 store was: no claim columns
    raw.executescript(
        "DROP INDEX alerts_assignee; ALTER TABLE alerts DROP COLUMN assignee;"
        " ALTER TABLE alerts DROP COLUMN claimed_until; PRAGMA user_version=3;"
    )
    raw.close()
    migrated = SQLiteStore(path, audit_key=AUDIT_KEY)
    until = utc_now() + timedelta(minutes=5)
    assert migrated.claim(alert_id, "lan", until).assignee == "lan"
    assert [a.alert_id for a in migrated.list_alerts(AlertQuery(assignee="lan")).alerts] == [
        alert_id
    ]
    migrated.close()


def test_a_version_5_store_learns_which_claims_its_posts_repeated(
    tmp_path: Path, ctx: PipelineContext
) -> None:
    import dataclasses

    from tests.unit.test_claim_stage import IDS, REPEAT, LexicalMatching

    path = tmp_path / "old.db"
    store = SQLiteStore(path, audit_key=AUDIT_KEY)
    result = process_batch([InboundRecord("t:1", line(external_id="m", text=REPEAT))],
                           dataclasses.replace(ctx, claims=LexicalMatching()))  # fmt: skip
    store.write_batch(stored_batch(result))
    store.close()
    db = sqlite3.connect(path)
    db.execute("DELETE FROM post_claims")  # as a store written before the table existed
    db.execute("PRAGMA user_version=5")
    db.commit()
    db.close()
    reopened = SQLiteStore(path, audit_key=AUDIT_KEY)
    try:
        assert [s.claim_id for s in reopened.claim_sightings([IDS["c04"]])] == [IDS["c04"]]
    finally:
        reopened.close()
