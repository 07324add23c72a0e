"""Checkpoints move only with what the bus accepted; validators only on complete rounds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ingest.checkpoints import MAX_SEEN, Checkpoint, CheckpointStore


def test_complete_round_advances_validators_cursor_and_seen() -> None:
    start = Checkpoint(etag='"a"', cursor="2026-11-01T00:00:00+00:00", seen=("x",))
    after = start.advanced(
        ["y", "x", "y"],
        complete=True,
        etag='"b"',
        last_modified="L",
        cursor="2026-11-02T00:00:00+00:00",
    )
    assert after.seen == ("x", "y")
    assert (after.etag, after.last_modified) == ('"b"', "L")
    assert after.cursor == "2026-11-02T00:00:00+00:00"
    assert after.has_seen("y")
    assert not start.has_seen("y")


def test_incomplete_round_keeps_validators_and_cursor_but_remembers_delivered_ids() -> None:
    start = Checkpoint(etag='"a"', last_modified="L0", cursor="c0")
    after = start.advanced(["p1"], complete=False, etag='"b"', cursor="c1")
    assert (after.etag, after.last_modified, after.cursor) == ('"a"', "L0", "c0")
    assert after.has_seen("p1")


def test_seen_ids_are_bounded_newest_kept() -> None:
    start = Checkpoint(seen=tuple(str(i) for i in range(MAX_SEEN)))
    after = start.advanced(["new"], complete=True)
    assert len(after.seen) == MAX_SEEN
    assert after.seen[-1] == "new"
    assert not after.has_seen("0")


def test_quota_is_counted_per_day() -> None:
    today = datetime.now(UTC).date().isoformat()
    first = Checkpoint().advanced([], complete=True, quota_units=3)
    second = first.advanced([], complete=False, quota_units=4)
    assert second.quota_spent(today) == 7
    stale = Checkpoint(quota_day="2000-01-01", quota_used=999)
    assert stale.quota_spent(today) == 0
    assert stale.advanced([], complete=True, quota_units=1).quota_spent(today) == 1


def test_store_round_trip(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "c.db")
    assert store.load("a") == Checkpoint()
    saved = Checkpoint().advanced(["1", "2"], complete=True, etag='"e"')
    store.save("a", saved)
    store.close()
    reopened = CheckpointStore(tmp_path / "c.db")
    assert reopened.load("a").seen == ("1", "2")
    assert reopened.load("a").etag == '"e"'
    reopened.close()
