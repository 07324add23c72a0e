"""The audit log against someone who can write the store but does not hold the audit key.

Finding 4 of the trust & safety issue: deleting the last 10 rows, or rewriting a row and
re-hashing everything after it with plain SHA-256, both passed `canhbao audit verify`. Each
attack below is run on a real store (SQLite file, real OpenSearch) behind the same
`AnchoredStore` the services use, and must be caught.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerting.audit_anchor import AnchoredStore, AuditTampered, CheckpointLog, verify_audit
from alerting.store import SQLiteStore
from schemas import GENESIS_HASH, AuditAction, DecisionAction, chain_hash
from stream_jobs.pipeline import PipelineContext
from tests.conftest import AUDIT_KEY
from tests.integration.helpers import decision, fill

pytestmark = pytest.mark.integration


@pytest.fixture
def anchored(tmp_path: Path, ctx: PipelineContext) -> Iterator[tuple[AnchoredStore, Path]]:
    """A store with 20 audit entries, each write checkpointed; and its database file."""
    path = tmp_path / "store.db"
    store = AnchoredStore(
        SQLiteStore(path, audit_key=AUDIT_KEY),
        CheckpointLog(tmp_path / "audit-checkpoints.jsonl", AUDIT_KEY),
    )
    ids = fill(store, ctx, n=12)
    for alert_id in ids[:6]:
        store.decide(decision(alert_id, DecisionAction.DISMISS))
    for i in range(2):
        store.record_audit("cli:admin", AuditAction.USER_ADDED, f"user:u{i}", None, {})
    assert store.audit_head()[0] == 20
    yield store, path
    store.close()


def _tamper(path: Path, *statements: str) -> None:
    """What an attacker with write access to the file does: drop the guards, then edit."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        for statement in statements:
            db.execute(statement)


def _rehash(path: Path, digest: Callable[[str, list[object]], str]) -> None:
    """Recompute every link and hash in order, as the attacker would after an edit."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT seq, at, actor, action, target, reason, details FROM audit_log ORDER BY seq"
        ).fetchall()
        prev = GENESIS_HASH
        for seq, at, actor, action, target, reason, details in rows:
            new = digest(prev, [seq, at, actor, action, target, reason, json.loads(details)])
            db.execute(
                "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, new, seq)
            )
            prev = new


def _verify(store: AnchoredStore) -> None:
    verify_audit(store.inner, store.checkpoints)


def test_an_intact_log_verifies_against_its_checkpoints(
    anchored: tuple[AnchoredStore, Path],
) -> None:
    store, _ = anchored
    report = verify_audit(store.inner, store.checkpoints)
    assert report.entries == 20
    assert report.latest is not None
    assert report.latest.seq == 20
    assert report.checkpoints >= 9  # one per write that appended: batch, decisions, records


def test_an_edited_entry_is_caught(anchored: tuple[AnchoredStore, Path]) -> None:
    store, path = anchored
    _tamper(path, "UPDATE audit_log SET reason = 'không có gì' WHERE seq = 14")
    with pytest.raises(AuditTampered, match="entry 14"):
        _verify(store)


def test_deleting_the_last_entries_is_caught(anchored: tuple[AnchoredStore, Path]) -> None:
    store, path = anchored
    _tamper(path, "DELETE FROM audit_log WHERE seq > 10")
    assert store.verify_audit_chain() == 10  # the chain alone cannot see it …
    with pytest.raises(AuditTampered, match=r"has 10 entries.*saw entry 20"):
        _verify(store)  # … the checkpoint can


def test_deleting_an_entry_in_the_middle_is_caught(anchored: tuple[AnchoredStore, Path]) -> None:
    store, path = anchored
    _tamper(path, "DELETE FROM audit_log WHERE seq = 7")
    with pytest.raises(AuditTampered, match="entry 7 is missing"):
        _verify(store)


def test_rewriting_and_rehashing_with_plain_sha256_is_caught(
    anchored: tuple[AnchoredStore, Path],
) -> None:
    """The attack that passed before: edit, then re-hash everything after it."""
    store, path = anchored

    def sha256(prev: str, fields: list[object]) -> str:
        body = json.dumps(
            [prev, *fields], ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(body.encode()).hexdigest()

    _tamper(path, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 14")
    _rehash(path, sha256)
    with pytest.raises(AuditTampered, match="entry 1:"):
        _verify(store)


def _keyed(key: bytes) -> Callable[[str, list[object]], str]:
    def digest(prev: str, fields: list[object]) -> str:
        seq, at, actor, action, target, reason, details = fields
        return chain_hash(
            key,
            prev,
            seq=int(str(seq)),
            at=str(at),
            actor=str(actor),
            action=str(action),
            target=str(target),
            reason=None if reason is None else str(reason),
            details=details,  # type: ignore[arg-type]
        )

    return digest


def test_rehashing_under_a_guessed_key_is_caught(anchored: tuple[AnchoredStore, Path]) -> None:
    store, path = anchored
    _tamper(path, "DELETE FROM audit_log WHERE seq > 15")
    _rehash(path, _keyed(b"an-attackers-guess-at-the-key-32b"))
    with pytest.raises(AuditTampered):
        _verify(store)


def test_a_rewrite_rehashed_with_the_real_key_is_caught_by_the_checkpoints(
    anchored: tuple[AnchoredStore, Path],
) -> None:
    """Even someone holding the audit key cannot rewrite history the checkpoints saw."""
    store, path = anchored
    _tamper(path, "UPDATE audit_log SET reason = 'không có gì' WHERE seq = 14")
    _rehash(path, _keyed(AUDIT_KEY))
    assert store.verify_audit_chain() == 20  # the chain alone is consistent again …
    with pytest.raises(AuditTampered, match="entry 14: it is not the entry a checkpoint signed"):
        _verify(store)  # … the checkpoints are not


def test_a_forged_or_edited_checkpoint_is_caught(anchored: tuple[AnchoredStore, Path]) -> None:
    store, _ = anchored
    lines = store.checkpoints.path.read_text("utf-8").splitlines()
    forged = json.loads(lines[-1])
    forged["seq"] = 12  # pretend the log was only ever 12 long
    store.checkpoints.path.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    with pytest.raises(AuditTampered, match="signature does not match"):
        _verify(store)


def test_audit_verify_on_the_cli_fails_on_a_truncated_log(
    tmp_path: Path, env: dict[str, str], ctx: PipelineContext
) -> None:
    data = Path(env["CANHBAO_DATA_DIR"])
    cli_env = {**env, "CANHBAO_AUDIT_KEY": AUDIT_KEY.decode(), "PATH": "/usr/bin:/bin"}
    store = AnchoredStore(
        SQLiteStore(data / "canhbao.db", audit_key=AUDIT_KEY),
        CheckpointLog(data / "audit-checkpoints.jsonl", AUDIT_KEY),
    )
    fill(store, ctx, n=4)
    store.close()
    command = [sys.executable, "-m", "canhbao", "audit", "verify"]
    ok = subprocess.run(command, env=cli_env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "4 entries" in ok.stdout
    _tamper(data / "canhbao.db", "DELETE FROM audit_log WHERE seq = 4")
    bad = subprocess.run(command, env=cli_env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "deleted from the end" in bad.stderr + bad.stdout


def test_deleting_the_tail_in_opensearch_is_caught(
    opensearch_url: str, unique: str, tmp_path: Path, ctx: PipelineContext
) -> None:
    from alerting.store.opensearch import OpenSearchStore

    inner = OpenSearchStore.connect(
        opensearch_url, prefix=unique, refresh=True, audit_key=AUDIT_KEY
    )
    store = AnchoredStore(inner, CheckpointLog(tmp_path / "cp.jsonl", AUDIT_KEY))
    try:
        for alert_id in fill(store, ctx, n=4):
            store.decide(decision(alert_id, DecisionAction.DISMISS))
        assert verify_audit(inner, store.checkpoints).entries == 8
        # Someone with index rights removes the last three entries and moves the head back.
        for seq in (6, 7, 8):
            inner._client.delete(index=inner.index["audit"], id=str(seq), refresh=True)
        kept = inner.audit_log(after_seq=4, limit=1)[0]
        inner._client.index(
            index=inner.index["audit_head"], id="head", body={"seq": 5, "hash": kept.hash}
        )
        with pytest.raises(AuditTampered, match="has 5 entries"):
            verify_audit(inner, store.checkpoints)
    finally:
        inner.delete_indices()
        inner.close()
