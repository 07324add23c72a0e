"""The claim library: claims, their versions and their history, in a local SQLite file beside
the review store (like the accounts and the delivery outbox).

Rules that hold whoever calls: a claim is created as a draft; only a supervisor (or admin)
publishes, and only a claim with an official rebuttal; a retired claim is never matched again
but stays, with its history. Every change writes the claim's new version and a history row in
one transaction, then the same event to the shared, hash-chained audit log (`audit`). Each
claim text's embedding is kept with it, tagged with its encoder, so loading the matcher does
not re-encode the library; texts embedded by another encoder are re-encoded on load.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from alerting.accounts.roles import Permission, Role, allows
from alerting.claims.validation import checked_claim_text
from alerting.exceptions import ClaimError, ClaimNotFound, DecisionConflict
from alerting.sqlite_files import immediate_transaction, open_local_db
from classifiers.embedding import Embedder
from schemas import AuditAction, Claim, ClaimDraft, ClaimStatus, utc_now, utc_text

__all__ = ["AuditSink", "ClaimLibrary", "HistoryEntry", "LibraryText", "SqliteClaimLibrary"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    claim_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_status ON claims (status, updated_at);
CREATE TABLE IF NOT EXISTS claim_history (
    claim_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (claim_id, version)
);
CREATE TABLE IF NOT EXISTS claim_texts (
    claim_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    encoder TEXT,
    vector BLOB,
    PRIMARY KEY (claim_id, ordinal)
);
CREATE TRIGGER IF NOT EXISTS claim_history_append_only BEFORE UPDATE ON claim_history
BEGIN SELECT RAISE(ABORT, 'claim history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS claim_history_no_delete BEFORE DELETE ON claim_history
BEGIN SELECT RAISE(ABORT, 'claim history is append-only'); END;
"""


class AuditSink(Protocol):
    def record_audit(
        self,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    at: datetime
    actor: str
    action: AuditAction
    reason: str | None
    claim: Claim


@dataclass(frozen=True, slots=True)
class LibraryText:
    """One matchable text of a published claim, with its vector where one is stored."""

    claim_id: str
    text: str
    vector: np.ndarray | None


class ClaimLibrary(Protocol):
    def create(self, draft: ClaimDraft, actor: str) -> Claim: ...
    def create_many(self, drafts: Sequence[ClaimDraft], actor: str, source: str) -> list[Claim]: ...
    def update(
        self, claim_id: str, draft: ClaimDraft, actor: str, expected_version: int
    ) -> Claim: ...
    def publish(self, claim_id: str, actor: str, role: Role) -> Claim: ...
    def retire(self, claim_id: str, actor: str, role: Role, reason: str) -> Claim: ...
    def get(self, claim_id: str) -> Claim: ...
    def claims(self, status: ClaimStatus | None = None, limit: int = 100) -> list[Claim]: ...
    def history(self, claim_id: str) -> list[HistoryEntry]: ...
    def published_texts(self, embedder: Embedder | None) -> list[LibraryText]: ...
    def published_claims(self) -> list[Claim]: ...
    def revision(self) -> tuple[int, str]: ...


def checked_draft(draft: ClaimDraft) -> ClaimDraft:
    """The draft with its statement and variants normalised and checked (`ClaimError`)."""
    statement = checked_claim_text(draft.statement, "the claim")
    variants = []
    for i, variant in enumerate(draft.variants, 1):
        text = checked_claim_text(variant, f"variant {i}", variant=True)
        if text != statement and text not in variants:
            variants.append(text)
    tags = sorted({t.strip().casefold() for t in draft.tags if t.strip()})
    return draft.model_copy(update={"statement": statement, "variants": variants, "tags": tags})


def _claim_id(statement: str, at: datetime) -> str:
    return "clm-" + hashlib.sha256(f"{statement}\n{utc_text(at)}".encode()).hexdigest()[:16]


class SqliteClaimLibrary:
    def __init__(self, path: Path, audit: AuditSink | None = None) -> None:
        self._db = open_local_db(path, _SCHEMA, "claim library")
        self._lock = threading.Lock()
        self._audit = audit

    def close(self) -> None:
        self._db.close()

    def _write(self) -> AbstractContextManager[sqlite3.Cursor]:
        return immediate_transaction(self._db, self._lock)

    # writes -----------------------------------------------------------------------------

    def create(self, draft: ClaimDraft, actor: str) -> Claim:
        return self.create_many([draft], actor, source="")[0]

    def create_many(self, drafts: Sequence[ClaimDraft], actor: str, source: str) -> list[Claim]:
        """All drafts as new claims in one transaction: all or none."""
        now = utc_now()
        claims = []
        for draft in drafts:
            checked = checked_draft(draft)
            claim = Claim(
                **checked.model_dump(), claim_id=_claim_id(checked.statement, now), version=1,
                status=ClaimStatus.DRAFT, created_by=actor, created_at=now, updated_at=now,
            )  # fmt: skip
            claims.append(claim)
        with self._write() as cur:
            for claim in claims:
                if cur.execute(
                    "SELECT 1 FROM claims WHERE claim_id = ?", (claim.claim_id,)
                ).fetchone():
                    raise ClaimError(f"the same statement twice in one import: {claim.statement!r}")
                self._put(cur, claim, actor, AuditAction.CLAIM_CREATED, None)
        if source:
            self._log(actor, AuditAction.CLAIMS_IMPORTED, source, None,
                      {"claims": [c.claim_id for c in claims]})  # fmt: skip
        else:
            for claim in claims:
                self._log(actor, AuditAction.CLAIM_CREATED, claim.claim_id, None,
                          {"source_alert_id": claim.source_alert_id})  # fmt: skip
        return claims

    def update(self, claim_id: str, draft: ClaimDraft, actor: str, expected_version: int) -> Claim:
        checked = checked_draft(draft)

        def change(old: Claim) -> Claim:
            if old.status is ClaimStatus.RETIRED:
                raise ClaimError(f"claim {claim_id} is retired: create a new one")
            # An edit of a published claim sends it back to review: a supervisor publishes the
            # new wording, so nothing unreviewed is ever matched or shown publicly.
            return Claim(
                **{**old.model_dump(), **checked.model_dump(), "status": ClaimStatus.DRAFT}
            )

        return self._change(
            claim_id, actor, AuditAction.CLAIM_UPDATED, None, change, expected_version
        )

    def publish(self, claim_id: str, actor: str, role: Role) -> Claim:
        if not allows(role, Permission.PUBLISH_CLAIMS):
            raise PermissionError("only a supervisor publishes a claim")

        def change(old: Claim) -> Claim:
            if old.status is not ClaimStatus.DRAFT:
                raise ClaimError(f"claim {claim_id} is {old.status.value}, not a draft")
            if old.rebuttal is None:
                raise ClaimError(f"claim {claim_id} has no official rebuttal yet")
            return old.model_copy(update={"status": ClaimStatus.PUBLISHED})

        return self._change(claim_id, actor, AuditAction.CLAIM_PUBLISHED, None, change)

    def retire(self, claim_id: str, actor: str, role: Role, reason: str) -> Claim:
        if not allows(role, Permission.PUBLISH_CLAIMS):
            raise PermissionError("only a supervisor retires a claim")
        if not reason.strip():
            raise ClaimError("retiring a claim needs a reason")

        def change(old: Claim) -> Claim:
            if old.status is ClaimStatus.RETIRED:
                raise ClaimError(f"claim {claim_id} is already retired")
            return old.model_copy(update={"status": ClaimStatus.RETIRED})

        return self._change(claim_id, actor, AuditAction.CLAIM_RETIRED, reason, change)

    def _change(
        self,
        claim_id: str,
        actor: str,
        action: AuditAction,
        reason: str | None,
        change: Callable[[Claim], Claim],
        expected_version: int | None = None,
    ) -> Claim:
        with self._write() as cur:
            row = cur.execute("SELECT body FROM claims WHERE claim_id = ?", (claim_id,)).fetchone()
            if row is None:
                raise ClaimNotFound(f"no claim {claim_id}")
            old = Claim.model_validate_json(row[0])
            if expected_version is not None and old.version != expected_version:
                raise DecisionConflict(
                    f"claim {claim_id} changed (version {old.version}, not {expected_version})"
                )
            new = change(old).model_copy(
                update={"version": old.version + 1, "updated_at": utc_now()}
            )
            self._put(cur, new, actor, action, reason)
        self._log(
            actor, action, claim_id, reason, {"version": new.version, "status": new.status.value}
        )
        return new

    def _put(
        self, cur: sqlite3.Cursor, claim: Claim, actor: str, action: AuditAction, reason: str | None
    ) -> None:
        body = claim.model_dump_json()
        cur.execute(
            "INSERT INTO claims (claim_id, version, status, body, updated_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (claim_id) DO UPDATE SET version = excluded.version,"
            " status = excluded.status, body = excluded.body, updated_at = excluded.updated_at",
            (claim.claim_id, claim.version, claim.status.value, body, utc_text(claim.updated_at)),
        )
        cur.execute(
            "INSERT INTO claim_history (claim_id, version, at, actor, action, reason, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (claim.claim_id, claim.version, utc_text(claim.updated_at), actor, action.value,
             reason, body),
        )  # fmt: skip
        texts = [claim.statement, *claim.variants]
        stored = cur.execute(
            "SELECT ordinal, text FROM claim_texts WHERE claim_id = ? ORDER BY ordinal",
            (claim.claim_id,),
        ).fetchall()
        if [t for _, t in stored] != texts:  # new wording: its vectors are computed on load
            cur.execute("DELETE FROM claim_texts WHERE claim_id = ?", (claim.claim_id,))
            cur.executemany(
                "INSERT INTO claim_texts (claim_id, ordinal, text) VALUES (?, ?, ?)",
                [(claim.claim_id, i, t) for i, t in enumerate(texts)],
            )

    def _log(
        self, actor: str, action: AuditAction, target: str, reason: str | None,
        details: dict[str, Any],
    ) -> None:  # fmt: skip
        if self._audit is not None:
            self._audit.record_audit(actor, action, target, reason, details)

    # reads ------------------------------------------------------------------------------

    def revision(self) -> tuple[int, str]:
        """Changes whenever a claim does: (claims, newest change)."""
        count, newest = self._db.execute("SELECT COUNT(*), MAX(updated_at) FROM claims").fetchone()
        return int(count), str(newest or "")

    def get(self, claim_id: str) -> Claim:
        row = self._db.execute("SELECT body FROM claims WHERE claim_id = ?", (claim_id,)).fetchone()
        if row is None:
            raise ClaimNotFound(f"no claim {claim_id}")
        return Claim.model_validate_json(row[0])

    def claims(self, status: ClaimStatus | None = None, limit: int = 100) -> list[Claim]:
        # Fixed SQL text only; the values are bound parameters.
        sql = "SELECT body FROM claims" + (" WHERE status = ?" if status else "")  # noqa: S608
        sql += " ORDER BY updated_at DESC, claim_id LIMIT ?"
        params: list[Any] = [*([status.value] if status else []), max(1, min(limit, 10_000))]
        return [Claim.model_validate_json(r[0]) for r in self._db.execute(sql, params)]

    def published_claims(self) -> list[Claim]:
        """Every published claim (`claims()` pages at most 10,000; the matcher needs all)."""
        rows = self._db.execute(
            "SELECT body FROM claims WHERE status = ? ORDER BY claim_id",
            (ClaimStatus.PUBLISHED.value,),
        )
        return [Claim.model_validate_json(r[0]) for r in rows]

    def history(self, claim_id: str) -> list[HistoryEntry]:
        rows = self._db.execute(
            "SELECT version, at, actor, action, reason, body FROM claim_history"
            " WHERE claim_id = ? ORDER BY version",
            (claim_id,),
        ).fetchall()
        return [
            HistoryEntry(v, datetime.fromisoformat(at), actor, AuditAction(action), reason,
                         Claim.model_validate_json(body))
            for v, at, actor, action, reason, body in rows
        ]  # fmt: skip

    def published_texts(self, embedder: Embedder | None) -> list[LibraryText]:
        """Every text of every published claim; with `embedder`, each with its vector — those
        stored by another encoder (or none) are encoded now and stored."""
        rows = self._db.execute(
            "SELECT t.claim_id, t.ordinal, t.text, t.encoder, t.vector FROM claim_texts t"
            " JOIN claims c ON c.claim_id = t.claim_id WHERE c.status = ?"
            " ORDER BY t.claim_id, t.ordinal",
            (ClaimStatus.PUBLISHED.value,),
        ).fetchall()
        if embedder is None:
            return [LibraryText(cid, text, None) for cid, _, text, _, _ in rows]
        stale = [i for i, r in enumerate(rows) if r[3] != embedder.name or r[4] is None]
        fresh: dict[int, np.ndarray] = {}
        if stale:
            vectors = embedder.embed([rows[i][2] for i in stale])
            fresh = dict(zip(stale, vectors, strict=True))
            with self._write() as cur:
                cur.executemany(
                    "UPDATE claim_texts SET encoder = ?, vector = ?"
                    " WHERE claim_id = ? AND ordinal = ?",
                    [(embedder.name, v.astype("<f4").tobytes(), rows[i][0], rows[i][1])
                     for i, v in fresh.items()],
                )  # fmt: skip
        return [
            LibraryText(cid, text, fresh[i] if i in fresh else np.frombuffer(blob, "<f4").copy())
            for i, (cid, _, text, _, blob) in enumerate(rows)
        ]
