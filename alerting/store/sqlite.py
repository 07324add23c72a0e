"""The SQLite review store of the embedded mode (WAL; one writer at a time, readers never block).

Writes are idempotent: posts, classifications and alerts are keyed by the post id, so a batch
replayed after a crash changes nothing. Decisions and the audit log are append-only, enforced by
triggers, and the audit log is hash-chained.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alerting.exceptions import AlertNotFound, DecisionConflict, StoreError
from alerting.store.base import (
    AlertDetail,
    AlertPage,
    AlertQuery,
    ClaimSighting,
    DedupSeed,
    Processed,
    StoredBatch,
    checked_audit_key,
    claim_ids_of,
    verify_audit_pages,
)
from alerting.store.decisions import (
    ClaimChange,
    ClaimMethods,
    apply_decision,
    audit_details,
    check_decidable,
    created_audit,
)
from classifiers.embedding import PostEmbedding
from classifiers.text import fold, normalize_text
from schemas import (
    GENESIS_HASH,
    Alert,
    AnalystDecision,
    AuditAction,
    AuditEvent,
    Classification,
    DeadLetter,
    DuplicateKind,
    NormalizedPost,
    chain_hash,
    utc_now,
    utc_text,
)
from stream_jobs.dedup import band_keys

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 6
# Each step takes a store from version N to N + 1; fresh stores get the full schema at once.
_MIGRATIONS = {
    1: """
        ALTER TABLE dead_letters ADD COLUMN letter_key TEXT;
        UPDATE dead_letters SET letter_key = 'legacy-' || id;
    """,
    # Full-text search of the queue: index the alerts that existed before it.
    2: """
        INSERT INTO alert_text (alert_id, body)
        SELECT a.alert_id, coalesce(json_extract(p.record, '$.title'), '') || ' '
               || json_extract(p.record, '$.folded')
        FROM alerts a JOIN posts p ON p.post_id = a.post_id;
    """,
    # Claims: one analyst per alert (columns added below, where missing: `_add_columns`).
    3: "",
    # Timestamps compared as text must all be fixed-width UTC (`_canonical_times` below).
    4: "",
    # Known false claims each post repeated (the claim stage's evidence), for counting.
    5: """
        INSERT OR IGNORE INTO post_claims (post_id, claim_id, platform, collected_at)
        SELECT c.post_id, json_extract(e.value, '$.claim_id'), p.platform, p.collected_at
        FROM classifications c JOIN posts p ON p.post_id = c.post_id,
             json_each(c.record, '$.evidence') e
        WHERE json_extract(e.value, '$.kind') = 'claim';
    """,
}
# Columns that migrations add to tables a fresh store creates with them already.
_ADDED_COLUMNS = {3: [("alerts", "assignee", "TEXT"), ("alerts", "claimed_until", "TEXT")]}


def _add_columns(db: sqlite3.Connection, version: int) -> str:
    statements = []
    for table, column, kind in _ADDED_COLUMNS.get(version, []):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            statements.append(f"ALTER TABLE {table} ADD COLUMN {column} {kind};")
    return " ".join(statements)


def _canonical_times(db: sqlite3.Connection) -> None:
    """Migration 4 → 5: rewrite the compared timestamp columns as `utc_text`, so that range
    filters and cursors compare instants whatever offset or precision a row was written with."""
    for table, key, column in (
        ("alerts", "alert_id", "created_at"),
        ("alerts", "alert_id", "claimed_until"),
        ("posts", "post_id", "collected_at"),
    ):
        rows = db.execute(
            f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL"  # noqa: S608
        ).fetchall()
        db.executemany(
            f"UPDATE {table} SET {column} = ? WHERE {key} = ?",  # noqa: S608
            [(utc_text(datetime.fromisoformat(value)), row_id) for row_id, value in rows],
        )


# Steps that need Python, run inside the same transaction as the SQL of their version.
_PYTHON_MIGRATIONS = {4: _canonical_times}

# SQLite allows 32,766 host parameters; lookups go in chunks well under it.
_PARAMS_PER_QUERY = 500

# Indexes on columns that migrations add: created once the schema is current.
_LATE_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_key ON dead_letters (letter_key);
CREATE INDEX IF NOT EXISTS alerts_assignee ON alerts (assignee);
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    post_id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    language TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    signature BLOB,
    cluster_id TEXT NOT NULL,
    duplicate_of TEXT,
    duplicate_kind TEXT,
    collected_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_duplicate_of ON posts (duplicate_of);
CREATE INDEX IF NOT EXISTS posts_cluster ON posts (cluster_id);
CREATE INDEX IF NOT EXISTS posts_content_hash ON posts (content_hash);
-- MinHash bands of first sightings: another worker's near-duplicate lookup on a miss.
CREATE TABLE IF NOT EXISTS post_bands (
    band BLOB NOT NULL,
    post_id TEXT NOT NULL,
    PRIMARY KEY (band, post_id)
) WITHOUT ROWID;

-- One sentence embedding per first sighting (the pipeline's embed stage), float16 bytes.
CREATE TABLE IF NOT EXISTS post_embeddings (
    post_id TEXT PRIMARY KEY REFERENCES posts (post_id),
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);

-- The known false claims a post repeated: reappearance counts by day and platform.
CREATE TABLE IF NOT EXISTS post_claims (
    post_id TEXT NOT NULL REFERENCES posts (post_id),
    claim_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    PRIMARY KEY (claim_id, post_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS post_claims_time ON post_claims (claim_id, collected_at);

CREATE TABLE IF NOT EXISTS classifications (
    post_id TEXT PRIMARY KEY REFERENCES posts (post_id),
    model_version TEXT NOT NULL,
    skipped TEXT,
    record TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts (post_id),
    status TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    platform TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    record TEXT NOT NULL,
    assignee TEXT,
    claimed_until TEXT
);
CREATE INDEX IF NOT EXISTS alerts_queue
    ON alerts (severity_rank DESC, created_at DESC, alert_id DESC);
CREATE INDEX IF NOT EXISTS alerts_status_queue
    ON alerts (status, severity_rank DESC, created_at DESC, alert_id DESC);

CREATE TABLE IF NOT EXISTS alert_labels (
    alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
    label TEXT NOT NULL,
    PRIMARY KEY (label, alert_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts (alert_id),
    action TEXT NOT NULL,
    analyst TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_alert ON decisions (alert_id);

CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_target ON audit_log (target, seq);

CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    origin TEXT NOT NULL,
    record TEXT NOT NULL,
    letter_key TEXT
);

CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;

-- The post text of each alert, folded (lower case, no diacritics, đ → d), for the queue's
-- word search: "ha noi" finds "Hà Nội".
CREATE VIRTUAL TABLE IF NOT EXISTS alert_text USING fts5(
    alert_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2'
);
"""


def _fts_query(text: str) -> str:
    """Words → an FTS5 query that needs all of them, each quoted (no operators from users)."""
    words = fold(normalize_text(text)).split()
    return " ".join('"' + w.replace('"', '""') + '"' for w in words[:20])


def _encode_cursor(rank: int, created_at: str, alert_id: str) -> str:
    raw = json.dumps([rank, created_at, alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[int, str, str]:
    try:
        rank, created_at, alert_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(rank), str(created_at), str(alert_id)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"invalid cursor: {exc}") from None


def _audit_event(row: Sequence[Any]) -> AuditEvent:
    seq, at, actor, action, target, reason, details, prev_hash, digest = row
    return AuditEvent.model_validate_json(
        json.dumps(
            {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action,
                "target": target,
                "reason": reason,
                "details": json.loads(details),
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
    )


class SQLiteStore(ClaimMethods):
    def __init__(self, path: Path | str, *, audit_key: bytes) -> None:
        """`audit_key` keys the audit chain's HMAC; it lives outside the store (settings or a
        secret), so someone who can write the database cannot re-hash a rewritten log."""
        self._audit_key = checked_audit_key(audit_key)
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL-safe
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            while 0 < version < SCHEMA_VERSION:
                self._db.execute("BEGIN")
                try:
                    script = f"{_MIGRATIONS[version]} {_add_columns(self._db, version)}".strip()
                    for statement in filter(str.strip, script.split(";")):
                        self._db.execute(statement)
                    if version in _PYTHON_MIGRATIONS:
                        _PYTHON_MIGRATIONS[version](self._db)
                    self._db.execute(f"PRAGMA user_version={version + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                version += 1
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: schema version {version} is newer than this canhbao"
                    f" ({SCHEMA_VERSION})"
                )
            self._db.executescript(_LATE_INDEXES)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {path}: {exc}") from exc
        self._lock = threading.RLock()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                cur.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"SQLite write failed: {exc}") from exc
                raise

    def _read(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite read failed: {exc}") from exc

    # audit ------------------------------------------------------------------------------

    def _append_audit(
        self,
        cur: sqlite3.Cursor,
        *,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None,
        details: dict[str, Any],
        at: str,
    ) -> None:
        last = cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        digest = chain_hash(
            self._audit_key,
            prev,
            seq=seq,
            at=at,
            actor=actor,
            action=action.value,
            target=target,
            reason=reason,
            details=details,
        )
        cur.execute(
            "INSERT INTO audit_log (seq, at, actor, action, target, reason, details, prev_hash,"
            " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                at,
                actor,
                action.value,
                target,
                reason,
                json.dumps(details, ensure_ascii=False, sort_keys=True),
                prev,
                digest,
            ),
        )

    # writes -----------------------------------------------------------------------------

    def write_batch(self, batch: StoredBatch) -> int:
        new_alerts = 0
        with self._write() as cur:
            # A re-collected post (same platform id) adds nothing to keep; duplicates that are
            # other posts are stored, as evidence of spread, pointing at their first sighting.
            sightings = [
                d for d in batch.duplicates if d.duplicate_kind is not DuplicateKind.SAME_POST
            ]
            for post in [*batch.posts, *sightings]:
                cur.execute(
                    "INSERT OR IGNORE INTO posts (post_id, platform, source_id, url, language,"
                    " content_hash, signature, cluster_id, duplicate_of, duplicate_kind,"
                    " collected_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        post.post_id,
                        post.raw.platform.value,
                        post.raw.source_id,
                        post.raw.url,
                        post.language,
                        post.content_hash,
                        batch.signatures.get(post.post_id),
                        post.cluster_id,
                        post.duplicate_of,
                        post.duplicate_kind.value if post.duplicate_kind else None,
                        utc_text(post.raw.collected_at),
                        post.model_dump_json(),
                    ),
                )
                signature = batch.signatures.get(post.post_id)
                if signature is not None and post.duplicate_kind is None and cur.rowcount:
                    cur.executemany(
                        "INSERT OR IGNORE INTO post_bands (band, post_id) VALUES (?, ?)",
                        [(band, post.post_id) for band in band_keys(signature)],
                    )
                embedding = batch.embeddings.get(post.post_id)
                if embedding is not None:
                    cur.execute(
                        "INSERT OR IGNORE INTO post_embeddings (post_id, model, vector)"
                        " VALUES (?, ?, ?)",
                        (post.post_id, embedding.model, embedding.to_bytes()),
                    )
            for result in batch.classifications:
                cur.execute(
                    "INSERT OR IGNORE INTO classifications (post_id, model_version, skipped,"
                    " record) VALUES (?, ?, ?, ?)",
                    (
                        result.post_id,
                        result.model_version,
                        result.skipped.value if result.skipped else None,
                        result.model_dump_json(),
                    ),
                )
            posts = {p.post_id: p for p in batch.posts}
            cur.executemany(
                "INSERT OR IGNORE INTO post_claims (post_id, claim_id, platform, collected_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    (r.post_id, claim_id, posts[r.post_id].raw.platform.value,
                     utc_text(posts[r.post_id].raw.collected_at))
                    for r in batch.classifications
                    if r.post_id in posts
                    for claim_id in claim_ids_of(r)
                ],
            )  # fmt: skip
            platforms = {p.post_id: p.raw.platform.value for p in batch.posts}
            for alert in batch.alerts:
                cur.execute(
                    "INSERT OR IGNORE INTO alerts (alert_id, post_id, status, severity_rank,"
                    " platform, cluster_id, created_at, version, record)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        alert.alert_id,
                        alert.post_id,
                        alert.status.value,
                        alert.severity.rank,
                        platforms.get(alert.post_id, "other"),
                        alert.cluster_id,
                        utc_text(alert.created_at),
                        alert.version,
                        alert.model_dump_json(),
                    ),
                )
                if cur.rowcount == 0:
                    continue  # replayed batch: the alert and its audit entry exist already
                new_alerts += 1
                flagged = posts.get(alert.post_id)
                if flagged is not None:
                    cur.execute(
                        "INSERT INTO alert_text (alert_id, body) VALUES (?, ?)",
                        (alert.alert_id, f"{fold(flagged.title or '')} {flagged.folded}"),
                    )
                cur.executemany(
                    "INSERT INTO alert_labels (alert_id, label) VALUES (?, ?)",
                    [(alert.alert_id, label.value) for label in alert.labels],
                )
                self._append_audit(cur, **created_audit(alert))
            for letter in batch.dead_letters:
                cur.execute(
                    "INSERT OR IGNORE INTO dead_letters (at, reason_code, origin, record,"
                    " letter_key) VALUES (?, ?, ?, ?, ?)",
                    (
                        letter.at.isoformat(),
                        letter.reason_code.value,
                        letter.origin,
                        letter.model_dump_json(),
                        letter.key,
                    ),
                )
        return new_alerts

    def decide(self, decision: AnalystDecision, expected_version: int | None = None) -> Alert:
        with self._write() as cur:
            alert = self._load_alert(cur, decision.alert_id)
            check_decidable(alert, decision, expected_version)
            updated, audit_action = apply_decision(alert, decision)
            self._replace_alert(cur, alert, updated)
            at = decision.decided_at.isoformat()
            cur.execute(
                "INSERT INTO decisions (alert_id, action, analyst, decided_at, record)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    alert.alert_id,
                    decision.action.value,
                    decision.analyst,
                    at,
                    decision.model_dump_json(),
                ),
            )
            self._append_audit(
                cur,
                actor=decision.analyst,
                action=audit_action,
                target=alert.alert_id,
                reason=decision.reason,
                details=audit_details(alert, updated, decision),
                at=at,
            )
        return updated

    # reads ------------------------------------------------------------------------------

    def list_alerts(self, query: AlertQuery) -> AlertPage:
        where: list[str] = []
        params: list[Any] = []
        if query.status is not None:
            where.append("a.status = ?")
            params.append(query.status.value)
        if query.severity is not None:
            where.append("a.severity_rank = ?")
            params.append(query.severity.rank)
        if query.platform is not None:
            where.append("a.platform = ?")
            params.append(query.platform.value)
        if query.label is not None:
            where.append(
                "EXISTS (SELECT 1 FROM alert_labels l"
                " WHERE l.label = ? AND l.alert_id = a.alert_id)"
            )
            params.append(query.label.value)
        if query.since is not None:
            where.append("a.created_at >= ?")
            params.append(utc_text(query.since))
        if query.until is not None:
            where.append("a.created_at < ?")
            params.append(utc_text(query.until))
        if query.assignee is not None:
            where.append("a.assignee = ?")
            params.append(query.assignee)
        if query.cluster_id is not None:
            where.append("a.cluster_id = ?")
            params.append(query.cluster_id)
        if query.text and (match := _fts_query(query.text)):
            where.append("a.alert_id IN (SELECT alert_id FROM alert_text WHERE body MATCH ?)")
            params.append(match)
        if query.cursor:
            where.append("(a.severity_rank, a.created_at, a.alert_id) < (?, ?, ?)")
            params.extend(_decode_cursor(query.cursor))
        limit = max(1, min(query.limit, 500))
        # Only fixed SQL fragments are joined here; every value travels as a parameter.
        sql = (
            "SELECT a.severity_rank, a.created_at, a.alert_id, a.record FROM alerts a"  # noqa: S608
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.severity_rank DESC, a.created_at DESC, a.alert_id DESC LIMIT ?"
        )
        rows = self._read(sql, [*params, limit + 1])
        alerts = [Alert.model_validate_json(r[3]) for r in rows[:limit]]
        cursor = _encode_cursor(*rows[limit - 1][:3]) if len(rows) > limit else None
        return AlertPage(alerts, cursor)

    def posts_by_id(self, post_ids: Sequence[str]) -> dict[str, NormalizedPost]:
        if not post_ids:
            return {}
        marks = ", ".join("?" * len(post_ids))
        rows = self._read(
            f"SELECT post_id, record FROM posts WHERE post_id IN ({marks})",  # noqa: S608
            list(post_ids),
        )
        return {r[0]: NormalizedPost.model_validate_json(r[1]) for r in rows}

    def embeddings(self, post_ids: Sequence[str]) -> dict[str, PostEmbedding]:
        found: dict[str, PostEmbedding] = {}
        ids = list(dict.fromkeys(post_ids))
        for start in range(0, len(ids), _PARAMS_PER_QUERY):
            chunk = ids[start : start + _PARAMS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = self._read(
                "SELECT post_id, model, vector FROM post_embeddings"  # noqa: S608 (marks only)
                f" WHERE post_id IN ({marks})",
                chunk,
            )
            for post_id, model, vector in rows:
                found[post_id] = PostEmbedding.from_bytes(model, vector)
        return found

    def processed(self, post_ids: Sequence[str]) -> list[Processed]:
        if not post_ids:
            return []
        marks = ", ".join("?" * len(post_ids))
        rows = self._read(
            "SELECT p.record, c.record, a.record FROM posts p"  # noqa: S608 (marks only)
            " LEFT JOIN classifications c USING (post_id) LEFT JOIN alerts a USING (post_id)"
            f" WHERE p.post_id IN ({marks})",
            list(post_ids),
        )
        return [
            Processed(
                NormalizedPost.model_validate_json(post),
                Classification.model_validate_json(verdict) if verdict else None,
                Alert.model_validate_json(alert) if alert else None,
            )
            for post, verdict, alert in rows
        ]

    def get_alert(self, alert_id: str) -> AlertDetail:
        rows = self._read(
            "SELECT a.record, p.record, c.record FROM alerts a JOIN posts p USING (post_id)"
            " LEFT JOIN classifications c USING (post_id) WHERE a.alert_id = ?",
            (alert_id,),
        )
        if not rows:
            raise AlertNotFound(alert_id)
        alert_json, post_json, class_json = rows[0]
        alert = Alert.model_validate_json(alert_json)
        duplicates = [
            NormalizedPost.model_validate_json(r[0])
            for r in self._read(
                "SELECT record FROM posts WHERE duplicate_of = ? ORDER BY collected_at LIMIT 200",
                (alert.post_id,),
            )
        ]
        decisions = [
            AnalystDecision.model_validate_json(r[0])
            for r in self._read(
                "SELECT record FROM decisions WHERE alert_id = ? ORDER BY id", (alert_id,)
            )
        ]
        return AlertDetail(
            alert=alert,
            post=NormalizedPost.model_validate_json(post_json),
            classification=Classification.model_validate_json(class_json) if class_json else None,
            duplicates=duplicates,
            decisions=decisions,
        )

    @staticmethod
    def _load_alert(cur: sqlite3.Cursor, alert_id: str) -> Alert:
        row = cur.execute("SELECT record FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
        if row is None:
            raise AlertNotFound(alert_id)
        return Alert.model_validate_json(row[0])

    @staticmethod
    def _replace_alert(cur: sqlite3.Cursor, old: Alert, new: Alert) -> None:
        """Write `new` over `old` (its review state and record), if `old` is still current."""
        cur.execute(
            "UPDATE alerts SET status = ?, version = ?, record = ?, assignee = ?,"
            " claimed_until = ? WHERE alert_id = ? AND version = ?",
            (
                new.status.value,
                new.version,
                new.model_dump_json(),
                new.assignee,
                utc_text(new.claimed_until) if new.claimed_until else None,
                old.alert_id,
                old.version,
            ),
        )
        if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; kept as a guard
            raise DecisionConflict(f"{old.alert_id} changed meanwhile")

    def _set_claim(self, alert_id: str, change: ClaimChange) -> Alert:
        with self._write() as cur:
            alert = self._load_alert(cur, alert_id)
            now = utc_now()
            updated, action, actor, details = change(alert, now)
            self._replace_alert(cur, alert, updated)
            self._append_audit(
                cur,
                actor=actor,
                action=action,
                target=alert_id,
                reason=None,
                details=details,
                at=now.isoformat(),
            )
        return updated

    def record_audit(
        self,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self._write() as cur:
            self._append_audit(
                cur,
                actor=actor,
                action=action,
                target=target,
                reason=reason,
                details=details or {},
                at=utc_now().isoformat(),
            )

    def claim_sightings(
        self, claim_ids: Sequence[str], since: datetime | None = None, limit: int = 10_000
    ) -> list[ClaimSighting]:
        found: list[ClaimSighting] = []
        after = utc_text(since) if since else ""
        for start in range(0, len(claim_ids), _PARAMS_PER_QUERY):
            chunk = list(claim_ids[start : start + _PARAMS_PER_QUERY])
            marks = ",".join("?" * len(chunk))
            # the matched posts, then the stored copies of them seen since
            sql = (  # placeholders only; the values are bound
                "SELECT pc.claim_id, pc.post_id, pc.platform, pc.collected_at, 0"  # noqa: S608
                f" FROM post_claims pc WHERE pc.claim_id IN ({marks}) AND pc.collected_at >= ?"
                " UNION ALL SELECT pc.claim_id, p.post_id, p.platform, p.collected_at, 1"
                " FROM post_claims pc JOIN posts p ON p.duplicate_of = pc.post_id"
                f" WHERE pc.claim_id IN ({marks}) AND p.collected_at >= ?"
                " ORDER BY 4 LIMIT ?"
            )
            rows = self._read(sql, [*chunk, after, *chunk, after, limit])
            found += [ClaimSighting(c, p, pl, datetime.fromisoformat(at), bool(d))
                      for c, p, pl, at, d in rows]  # fmt: skip
        return sorted(found, key=lambda s: s.collected_at)[:limit]

    def audit_log(
        self, target: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[AuditEvent]:
        sql = (
            "SELECT seq, at, actor, action, target, reason, details, prev_hash, hash FROM audit_log"
        )
        sql += " WHERE seq > ?" + (" AND target = ?" if target else "") + " ORDER BY seq LIMIT ?"
        params: list[Any] = [after_seq, *([target] if target else []), max(1, min(limit, 1000))]
        return [_audit_event(r) for r in self._read(sql, params)]

    def verify_audit_chain(self, signed: Mapping[int, str] | None = None) -> int:
        def page(after: int) -> list[tuple[AuditEvent, str]]:
            rows = self._read(
                "SELECT seq, at, actor, action, target, reason, details, prev_hash, hash"
                " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 5000",
                (after,),
            )
            return [(_audit_event(row), row[1]) for row in rows]  # the hash covers `at` as stored

        return verify_audit_pages(page, self._audit_key, signed)

    def audit_head(self) -> tuple[int, str]:
        rows = self._read("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._read("SELECT record FROM dead_letters ORDER BY id LIMIT ?", (limit,))
        return [DeadLetter.model_validate_json(r[0]) for r in rows]

    def dedup_seeds(self, limit: int) -> Iterator[DedupSeed]:
        rows = self._read(
            "SELECT post_id, content_hash, signature, cluster_id FROM ("
            " SELECT rowid, * FROM posts WHERE duplicate_kind IS NULL ORDER BY rowid DESC LIMIT ?"
            ") ORDER BY rowid",
            (limit,),
        )
        for post_id, digest, signature, cluster_id in rows:
            yield DedupSeed(post_id, digest, signature, cluster_id)

    def dedup_candidates(
        self, hashes: Sequence[str], bands: Sequence[bytes], limit: int = 1_000
    ) -> list[DedupSeed]:
        found: dict[str, DedupSeed] = {}
        by_hash = "content_hash IN ({marks})"
        by_band = "post_id IN (SELECT post_id FROM post_bands WHERE band IN ({marks}))"
        queries: list[tuple[str, list[Any]]] = [
            (by_hash, list(dict.fromkeys(hashes))),
            (by_band, list(dict.fromkeys(bands))),
        ]
        for condition, values in queries:
            for start in range(0, len(values), _PARAMS_PER_QUERY):
                chunk = values[start : start + _PARAMS_PER_QUERY]
                where = condition.format(marks=", ".join("?" * len(chunk)))
                sql = (
                    "SELECT post_id, content_hash, signature, cluster_id FROM posts"  # noqa: S608 -- only placeholders are formatted in
                    f" WHERE duplicate_kind IS NULL AND {where} ORDER BY rowid LIMIT ?"
                )
                for post_id, digest, signature, cluster_id in self._read(sql, (*chunk, limit)):
                    found.setdefault(post_id, DedupSeed(post_id, digest, signature, cluster_id))
        return list(found.values())[:limit]

    def counts(self) -> dict[str, Any]:
        def grouped(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in self._read(sql)}

        return {
            "posts": self._read("SELECT count(*) FROM posts WHERE duplicate_kind IS NULL")[0][0],
            "duplicates": self._read("SELECT count(*) FROM posts WHERE duplicate_kind IS NOT NULL")[
                0
            ][0],
            "alerts": grouped("SELECT status, count(*) FROM alerts GROUP BY status"),
            "dead_letters": grouped(
                "SELECT reason_code, count(*) FROM dead_letters GROUP BY reason_code"
            ),
            "audit_events": self._read("SELECT count(*) FROM audit_log")[0][0],
            "checked_at": utc_now().isoformat(),
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()
