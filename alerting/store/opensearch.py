"""The OpenSearch review store: the same `AlertStore` contract as SQLite, on a search engine.

Consistency without transactions:
- posts and alerts are created with their post-derived ids (`op_type=create`), so a replayed
  batch changes nothing and counts no new alert;
- a decision is serialised by creating the decision document `<alert>:<version>` — two analysts
  deciding one version of an alert cannot both create it — and the alert itself is updated with
  `if_seq_no`/`if_primary_term`;
- the audit log is append-only and hash-chained, advanced per batch: a head document is
  moved from entry N to N + k by compare-and-set, carrying the k new entries until they are
  written under ids N + 1 … N + k (`_append_audits`); whoever reads a head with entries not yet
  written writes them first, so a writer dying after the move loses nothing;
- a batch replayed after a crash between creating its alerts and auditing them finds the
  alerts already there, looks their "alert.created" entries up, and writes those missing, so
  every alert is audited exactly once. The look-up costs a refresh, paid only on a replay.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, OpenSearchException
from pydantic import BaseModel

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
from alerting.store.search_schema import INDEX_SETTINGS, MAPPINGS
from classifiers.embedding import PostEmbedding
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

__all__ = ["OpenSearchStore"]

_HEAD_ID = "head"
_PAGE = 1000
_POOL_SIZE = 16


@dataclass(frozen=True, slots=True)
class _Head:
    seq: int
    hash: str
    guard: dict[str, int] | None  # the head document's concurrency tokens; None: no head yet
    pending: list[dict[str, Any]]  # entries the head was moved over, perhaps not yet written


@dataclass(frozen=True, slots=True)
class _Entry:
    actor: str
    action: AuditAction
    target: str
    reason: str | None
    details: dict[str, Any]
    at: str


def _chained(key: bytes, seq: int, prev: str, entries: Sequence[_Entry]) -> list[dict[str, Any]]:
    """The audit documents for `entries`, numbered and hash-chained after (seq, prev)."""
    bodies = []
    for entry in entries:
        seq += 1
        digest = chain_hash(
            key,
            prev,
            seq=seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action.value,
            target=entry.target,
            reason=entry.reason,
            details=entry.details,
        )
        bodies.append(
            {
                "seq": seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action.value,
                "target": entry.target,
                "reason": entry.reason,
                "details": entry.details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return bodies


def _created_entry(alert: Alert) -> _Entry:
    return _Entry(**created_audit(alert))


def _embedding_fields(embedding: PostEmbedding | None) -> dict[str, Any]:
    if embedding is None:
        return {}
    return {
        "embedding": base64.b64encode(embedding.to_bytes()).decode(),
        "embedding_model": embedding.model,
    }


def _with_documents(fields: dict[str, Any], **models: BaseModel | None) -> str:
    """One bulk line: `fields` as JSON with each model spliced in as its own JSON, so that the
    models are serialised once (by pydantic's encoder) instead of to a dict and then to text."""
    parts = [json.dumps(fields, ensure_ascii=False)[:-1]]
    for name, model in models.items():
        parts.append(f',"{name}":{model.model_dump_json() if model is not None else "null"}')
    return "".join(parts) + "}"


def _doc(model: Any) -> dict[str, Any]:
    # The JSON form as a dict, without encoding to text and parsing it back (4× faster).
    result: dict[str, Any] = model.model_dump(mode="json")
    return result


def _seed(source: dict[str, Any]) -> DedupSeed:
    signature = source.get("signature")
    return DedupSeed(
        source["post_id"],
        source["content_hash"],
        base64.b64decode(signature) if signature else None,
        source["cluster_id"],
    )


class OpenSearchStore(ClaimMethods):
    engine = "OpenSearch"  # for error messages

    def __init__(
        self,
        client: OpenSearch,
        prefix: str = "canhbao",
        refresh: bool = False,
        *,
        audit_key: bytes,
    ):
        """`refresh=True` makes every write visible to search at once (tests, small loads);
        otherwise writes become searchable within the index refresh interval (1 s).
        `audit_key` keys the audit chain's HMAC and is never written to the index."""
        self._audit_key = checked_audit_key(audit_key)
        self._client = client
        self._refresh = "true" if refresh else "false"
        self.index = {name: f"{prefix}-{name}" for name in MAPPINGS}
        self.ensure_indices()

    @classmethod
    def connect(
        cls,
        url: str,
        prefix: str = "canhbao",
        refresh: bool = False,
        timeout_s: float = 30.0,
        *,
        audit_key: bytes,
    ) -> OpenSearchStore:
        # urllib3 keeps one connection per host by default: the worker's overlapping batches,
        # the review service's threads and the audit writes then open and discard connections
        # ("Connection pool is full"). Sized for the threads that share one store.
        client = OpenSearch(
            hosts=[url],
            max_retries=3,
            retry_on_timeout=True,
            timeout=timeout_s,
            pool_maxsize=_POOL_SIZE,
        )
        return cls(client, prefix=prefix, refresh=refresh, audit_key=audit_key)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConflictError:
            raise
        except OpenSearchException as exc:
            raise StoreError(f"{self.engine} {what} failed: {exc}") from exc

    def ensure_indices(self) -> None:
        for name, index in self.index.items():
            if self._call("index check", self._client.indices.exists, index=index):
                # Fields added since the index was made (mappings only ever gain fields).
                self._call(
                    "mapping update",
                    self._client.indices.put_mapping,
                    index=index,
                    body=MAPPINGS[name],
                )
                continue
            body = {"settings": INDEX_SETTINGS, "mappings": MAPPINGS[name]}
            try:
                self._client.indices.create(index=index, body=body)
            except OpenSearchException as exc:
                if "resource_already_exists_exception" not in str(exc):
                    raise StoreError(f"creating index {index} failed: {exc}") from exc

    # audit ------------------------------------------------------------------------------

    def _get(self, name: str, doc_id: str) -> dict[str, Any] | None:
        """A realtime GET; None when absent (404s here are expected, not worth a log line)."""
        doc: dict[str, Any] = self._call(
            f"{name} read", self._client.get, index=self.index[name], id=doc_id, ignore=404
        )
        return doc if doc.get("found") else None

    def _head(self) -> _Head:
        doc = self._get("audit_head", _HEAD_ID)
        if doc is None:
            return _Head(0, GENESIS_HASH, None, [])
        source = doc["_source"]
        guard = {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
        return _Head(int(source["seq"]), str(source["hash"]), guard, source.get("pending") or [])

    def _materialise(self, entries: list[dict[str, Any]]) -> None:
        """Create audit entries a head was moved over. Idempotent: an entry already there (its
        writer got this far, or another appender did) is a 409 with the same content."""
        self._bulk(self._audit_lines(entries))

    def _settle(self, head: _Head) -> str | None:
        """Write what `head` was moved over and is not in the log yet, in one read (and one
        write if any is missing); return the hash of entry N + 1 if one exists beyond it."""
        ids = [str(body["seq"]) for body in head.pending] + [str(head.seq + 1)]
        response = self._call(
            "audit read",
            self._client.mget,
            index=self.index["audit"],
            body={"ids": ids},
            _source_includes=["hash"],
        )
        *written, beyond = (doc if doc.get("found") else None for doc in response["docs"])
        missing = [body for body, doc in zip(head.pending, written, strict=True) if doc is None]
        if missing:
            self._materialise(missing)
        return None if beyond is None else str(beyond["_source"]["hash"])

    def _audit_lines(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for body in entries:
            lines.append({"create": {"_index": self.index["audit"], "_id": str(body["seq"])}})
            lines.append(body)
        return lines

    def _append_audits(self, entries: Sequence[_Entry]) -> None:
        self._materialise(self._reserve_audits(entries))

    def _reserve_audits(self, entries: Sequence[_Entry]) -> list[dict[str, Any]]:
        """Append `entries` to the chain; return their documents, still to be written (by the
        caller, or by whoever reads the head next). Three requests whatever their number.

        The head document is the commit point: it is moved from N to N + k by compare-and-set
        and carries the k new entries (`pending`) until they are written. Two appenders cannot
        both move it from N, so the slots are ours once it moved; a writer that dies after
        moving it leaves its entries in the head, and the next appender (or `verify`) writes
        them before moving on. The chain is advanced per batch, not per entry."""
        if not entries:
            return []
        for _ in range(100):
            head = self._head()
            stray_hash = self._settle(head)
            if stray_hash is not None:
                # Entry N + 1 without a head over it: written by a writer that appended before
                # moving the head (stores from before this scheme) and died between the two.
                with contextlib.suppress(ConflictError):
                    self._move_head(head.seq + 1, stray_hash, head.guard, [])
                continue
            bodies = _chained(self._audit_key, head.seq, head.hash, entries)
            try:
                self._move_head(bodies[-1]["seq"], bodies[-1]["hash"], head.guard, bodies)
            except ConflictError:
                continue  # another appender moved the head first: chain after its entries
            return bodies
        raise StoreError("audit append kept conflicting; is something writing in a loop?")

    def _move_head(
        self,
        seq: int,
        digest: str,
        guard: dict[str, int] | None,
        pending: list[dict[str, Any]],
    ) -> None:
        """Compare-and-set the head; `ConflictError` when someone moved it since it was read.
        Through `_call`: an outage here must surface as a StoreError the runner waits out."""
        kwargs: dict[str, Any] = guard or {"op_type": "create"}
        self._call(
            "audit head",
            self._client.index,
            index=self.index["audit_head"],
            id=_HEAD_ID,
            body={"seq": seq, "hash": digest, "pending": pending},
            **kwargs,
        )

    def _append_audit(
        self,
        *,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None,
        details: dict[str, Any],
        at: str,
    ) -> None:
        self._append_audits([_Entry(actor, action, target, reason, details, at)])

    # writes -----------------------------------------------------------------------------

    def _bulk(self, lines: Sequence[dict[str, Any] | str]) -> list[dict[str, Any]]:
        """Send bulk lines (dicts, or JSON text already); the items' results, in order."""
        if not lines:
            return []
        body = "\n".join(
            line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
            for line in lines
        )
        body += "\n"
        response = self._call("bulk write", self._client.bulk, body=body, refresh=self._refresh)
        items: list[dict[str, Any]] = [next(iter(item.values())) for item in response["items"]]
        failed = [i for i in items if i.get("error") and i.get("status") != 409]
        if failed:
            raise StoreError(f"{len(failed)} bulk item(s) failed, first: {failed[0]['error']}")
        return items

    def write_batch(self, batch: StoredBatch) -> int:
        """Five requests a batch whatever its size — two `_bulk`s, and three to advance the audit
        chain when the batch raised alerts — and four more on a replay. Write order is the
        recovery plan: alerts and dead letters first, then the audit entries of the alerts
        created, posts last. A stored post means its batch is complete — and the dedup index
        of a restarted worker is warmed from stored posts, so a batch cut short by a crash is
        reprocessed in full on redelivery rather than skipped as "already seen"."""
        items = self._bulk([*self._alert_lines(batch), *self._dead_letter_lines(batch)])
        statuses = [item["status"] for item in items[: len(batch.alerts)]]
        created = [a for a, code in zip(batch.alerts, statuses, strict=True) if code == 201]
        existing = [a for a, code in zip(batch.alerts, statuses, strict=True) if code == 409]
        unaudited = self._unaudited(existing)
        # Once reserved the entries are safe in the head: written with the posts, in one go.
        audit = self._reserve_audits([_created_entry(a) for a in [*created, *unaudited]])
        self._bulk([*self._audit_lines(audit), *self._post_lines(batch)])
        return len(created)

    def _alert_lines(self, batch: StoredBatch) -> list[dict[str, Any] | str]:
        """Bulk `create` lines for the batch's alerts, each with its post's words to search."""
        posts = {p.post_id: p for p in batch.posts}
        lines: list[dict[str, Any] | str] = []
        for alert in batch.alerts:
            post = posts.get(alert.post_id)
            lines.append({"create": {"_index": self.index["alerts"], "_id": alert.alert_id}})
            fields = self._alert_fields(
                alert,
                post.raw.platform.value if post else "other",
                text=f"{post.title or ''}\n{post.text}" if post else "",
            )
            lines.append(_with_documents(fields, record=alert))
        return lines

    def _dead_letter_lines(self, batch: StoredBatch) -> list[dict[str, Any] | str]:
        lines: list[dict[str, Any] | str] = []
        for letter in batch.dead_letters:
            lines.append({"create": {"_index": self.index["deadletters"], "_id": letter.key}})
            fields = {
                "at": letter.at.isoformat(),
                "reason_code": letter.reason_code.value,
                "origin": letter.origin,
            }
            lines.append(_with_documents(fields, record=letter))
        return lines

    def _post_lines(self, batch: StoredBatch) -> list[dict[str, Any] | str]:
        classified = {c.post_id: c for c in batch.classifications}
        sightings = [d for d in batch.duplicates if d.duplicate_kind is not DuplicateKind.SAME_POST]
        lines: list[dict[str, Any] | str] = []
        for post in [*batch.posts, *sightings]:
            result = classified.get(post.post_id)
            signature = batch.signatures.get(post.post_id)
            lines.append({"create": {"_index": self.index["posts"], "_id": post.post_id}})
            lines.append(
                _with_documents(
                    {
                        "post_id": post.post_id,
                        "platform": post.raw.platform.value,
                        "kind": post.raw.kind.value,
                        "source_id": post.raw.source_id,
                        "url": post.raw.url,
                        "language": post.language,
                        "content_hash": post.content_hash,
                        "cluster_id": post.cluster_id,
                        "duplicate_of": post.duplicate_of,
                        "duplicate_kind": post.duplicate_kind.value
                        if post.duplicate_kind
                        else None,
                        "collected_at": post.raw.collected_at.isoformat(),
                        "title": post.title,
                        "text": post.text,
                        "labels": [label.value for label in result.labels] if result else [],
                        "claim_ids": claim_ids_of(result),
                        "signature": base64.b64encode(signature).decode() if signature else None,
                        "dedup_bands": [b.hex() for b in band_keys(signature)]
                        if signature and post.duplicate_kind is None
                        else [],
                        **_embedding_fields(batch.embeddings.get(post.post_id)),
                    },
                    record=post,
                    classification=result,
                )
            )
        return lines

    def _unaudited(self, alerts: list[Alert]) -> list[Alert]:
        """Of alerts that already existed (a replayed batch), those whose "alert.created"
        entry was never written: their writer died between the two writes."""
        if not alerts:
            return []
        self._settle(self._head())  # a writer that died after moving the head left entries there
        self._call("refresh", self._client.indices.refresh, index=self.index["audit"])
        query = {
            "bool": {
                "filter": [
                    {"terms": {"target": [a.alert_id for a in alerts]}},
                    {"term": {"action": AuditAction.ALERT_CREATED.value}},
                ]
            }
        }
        hits = self._search("audit", {"query": query, "size": len(alerts), "_source": ["target"]})
        audited = {hit["_source"]["target"] for hit in hits}
        return [a for a in alerts if a.alert_id not in audited]

    @classmethod
    def _alert_body(cls, alert: Alert, platform: str, text: str = "") -> dict[str, Any]:
        return cls._alert_fields(alert, platform, text) | {"record": _doc(alert)}

    @staticmethod
    def _alert_fields(alert: Alert, platform: str, text: str = "") -> dict[str, Any]:
        """The alert's searchable fields (its record aside)."""
        return {
            "alert_id": alert.alert_id,
            "post_id": alert.post_id,
            "status": alert.status.value,
            "severity": alert.severity.value,
            "severity_rank": alert.severity.rank,
            "platform": platform,
            "cluster_id": alert.cluster_id,
            "labels": [label.value for label in alert.labels],
            "created_at": alert.created_at.isoformat(),
            "version": alert.version,
            "text": text,
            "assignee": alert.assignee,
            "claimed_until": alert.claimed_until.isoformat() if alert.claimed_until else None,
        }

    def decide(self, decision: AnalystDecision, expected_version: int | None = None) -> Alert:
        doc, alert = self._load_alert(decision.alert_id)
        check_decidable(alert, decision, expected_version)
        at = decision.decided_at.isoformat()
        try:
            self._call(
                "decision write",
                self._client.index,
                index=self.index["decisions"],
                id=f"{alert.alert_id}:{alert.version}",
                op_type="create",
                refresh=self._refresh,
                body={
                    "alert_id": alert.alert_id,
                    "action": decision.action.value,
                    "analyst": decision.analyst,
                    "decided_at": at,
                    "record": _doc(decision),
                },
            )
        except ConflictError:
            raise DecisionConflict(f"{alert.alert_id} was just decided by someone else") from None
        updated, audit_action = apply_decision(alert, decision)
        self._replace_alert(doc, updated, f"{alert.alert_id} changed while deciding")
        details = audit_details(alert, updated, decision)
        self._append_audit(
            actor=decision.analyst,
            action=audit_action,
            target=alert.alert_id,
            reason=decision.reason,
            details=details,
            at=at,
        )
        return updated

    # reads ------------------------------------------------------------------------------

    def _search(self, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        response = self._call("search", self._client.search, index=self.index[name], body=body)
        hits: list[dict[str, Any]] = response["hits"]["hits"]
        return hits

    def list_alerts(self, query: AlertQuery) -> AlertPage:
        filters: list[dict[str, Any]] = []
        if query.status is not None:
            filters.append({"term": {"status": query.status.value}})
        if query.severity is not None:
            filters.append({"term": {"severity": query.severity.value}})
        if query.platform is not None:
            filters.append({"term": {"platform": query.platform.value}})
        if query.assignee is not None:
            filters.append({"term": {"assignee": query.assignee}})
        if query.cluster_id is not None:
            filters.append({"term": {"cluster_id": query.cluster_id}})
        if query.label is not None:
            filters.append({"term": {"labels": query.label.value}})
        window: dict[str, str] = {}
        if query.since is not None:
            window["gte"] = utc_text(query.since)
        if query.until is not None:
            window["lt"] = utc_text(query.until)
        if window:
            filters.append({"range": {"created_at": window}})
        limit = max(1, min(query.limit, 500))
        must: list[dict[str, Any]] = []
        if query.text and query.text.strip():
            # Every word must match; the analyzer folds accents on both sides.
            must.append({"match": {"text": {"query": query.text, "operator": "and"}}})
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters, "must": must}},
            "sort": [{"severity_rank": "desc"}, {"created_at": "desc"}, {"alert_id": "desc"}],
            "size": limit + 1,
        }
        if query.cursor:
            body["search_after"] = _decode_cursor(query.cursor)
        hits = self._search("alerts", body)
        alerts = [Alert.model_validate_json(json.dumps(h["_source"]["record"])) for h in hits]
        cursor = _encode_cursor(hits[limit - 1]["sort"]) if len(hits) > limit else None
        return AlertPage(alerts[:limit], cursor)

    def posts_by_id(self, post_ids: Sequence[str]) -> dict[str, NormalizedPost]:
        if not post_ids:
            return {}
        found = self._call(
            "posts read", self._client.mget, index=self.index["posts"], body={"ids": list(post_ids)}
        )
        return {
            doc["_id"]: NormalizedPost.model_validate_json(json.dumps(doc["_source"]["record"]))
            for doc in found["docs"]
            if doc.get("found")
        }

    def embeddings(self, post_ids: Sequence[str]) -> dict[str, PostEmbedding]:
        if not post_ids:
            return {}
        found = self._call(
            "embedding read",
            self._client.mget,
            index=self.index["posts"],
            body={"ids": list(dict.fromkeys(post_ids))},
            _source_includes=["embedding", "embedding_model"],
        )
        return {
            doc["_id"]: PostEmbedding.from_bytes(
                doc["_source"]["embedding_model"], base64.b64decode(doc["_source"]["embedding"])
            )
            for doc in found["docs"]
            if doc.get("found") and doc["_source"].get("embedding")
        }

    def claim_sightings(
        self, claim_ids: Sequence[str], since: datetime | None = None, limit: int = 10_000
    ) -> list[ClaimSighting]:
        if not claim_ids:
            return []
        window = [{"range": {"collected_at": {"gte": since.isoformat()}}}] if since else []
        fields = ["post_id", "platform", "collected_at", "claim_ids", "duplicate_of"]

        def hits(query: dict[str, Any]) -> list[dict[str, Any]]:
            body = {"query": {"bool": {"filter": [query, *window]}}, "size": limit,
                    "sort": [{"collected_at": "asc"}], "_source": fields}  # fmt: skip
            return [h["_source"] for h in self._search("posts", body)]

        wanted = set(claim_ids)
        matched = hits({"terms": {"claim_ids": list(wanted)}})
        claims_of = {m["post_id"]: [c for c in m["claim_ids"] if c in wanted] for m in matched}
        # the stored copies of the matched posts (other platforms, other sites)
        copies = hits({"terms": {"duplicate_of": list(claims_of)}}) if claims_of else []
        found = [
            ClaimSighting(c, doc["post_id"], doc["platform"],
                          datetime.fromisoformat(doc["collected_at"]), duplicate)
            for docs, duplicate in ((matched, False), (copies, True))
            for doc in docs
            for c in claims_of.get(doc["duplicate_of"] if duplicate else doc["post_id"], [])
        ]  # fmt: skip
        return sorted(found, key=lambda s: s.collected_at)[:limit]

    def processed(self, post_ids: Sequence[str]) -> list[Processed]:
        if not post_ids:
            return []
        found = self._call(
            "posts read", self._client.mget, index=self.index["posts"], body={"ids": list(post_ids)}
        )
        alerts = self._search(
            "alerts",
            {"query": {"terms": {"post_id": list(post_ids)}}, "size": len(post_ids)},
        )
        by_post = {
            hit["_source"]["post_id"]: Alert.model_validate_json(
                json.dumps(hit["_source"]["record"])
            )
            for hit in alerts
        }
        out = []
        for doc in found["docs"]:
            if not doc.get("found"):
                continue
            source = doc["_source"]
            verdict = source.get("classification")
            out.append(
                Processed(
                    NormalizedPost.model_validate_json(json.dumps(source["record"])),
                    Classification.model_validate_json(json.dumps(verdict)) if verdict else None,
                    by_post.get(doc["_id"]),
                )
            )
        return out

    def get_alert(self, alert_id: str) -> AlertDetail:
        doc = self._get("alerts", alert_id)
        if doc is None:
            raise AlertNotFound(alert_id)
        alert = Alert.model_validate_json(json.dumps(doc["_source"]["record"]))
        post = self._get("posts", alert.post_id)
        if post is None:
            raise StoreError(f"alert {alert_id} points at a missing post {alert.post_id}")
        source = post["_source"]
        duplicates = self._search(
            "posts",
            {
                "query": {"term": {"duplicate_of": alert.post_id}},
                "sort": [{"collected_at": "asc"}],
                "size": 200,
            },
        )
        decisions = self._search(
            "decisions",
            {
                "query": {"term": {"alert_id": alert_id}},
                "sort": [{"decided_at": "asc"}],
                "size": 100,
            },
        )
        classification = source.get("classification")
        return AlertDetail(
            alert=alert,
            post=NormalizedPost.model_validate_json(json.dumps(source["record"])),
            classification=(
                Classification.model_validate_json(json.dumps(classification))
                if classification
                else None
            ),
            duplicates=[
                NormalizedPost.model_validate_json(json.dumps(h["_source"]["record"]))
                for h in duplicates
            ],
            decisions=[
                AnalystDecision.model_validate_json(json.dumps(h["_source"]["record"]))
                for h in decisions
            ],
        )

    def _load_alert(self, alert_id: str) -> tuple[dict[str, Any], Alert]:
        """The alert's document (for its concurrency tokens) and the alert in it."""
        doc = self._get("alerts", alert_id)
        if doc is None:
            raise AlertNotFound(alert_id)
        return doc, Alert.model_validate_json(json.dumps(doc["_source"]["record"]))

    def _replace_alert(self, doc: dict[str, Any], new: Alert, conflict: str) -> None:
        """Write `new` over the alert document `doc`, unless someone changed it since it was
        read (`DecisionConflict` with the message `conflict`)."""
        source = doc["_source"]
        try:
            self._call(
                "alert update",
                self._client.index,
                index=self.index["alerts"],
                id=new.alert_id,
                body=self._alert_body(
                    new,
                    source["platform"],
                    text=source.get("text", ""),
                ),
                if_seq_no=doc["_seq_no"],
                if_primary_term=doc["_primary_term"],
                refresh=self._refresh,
            )
        except ConflictError:
            raise DecisionConflict(conflict) from None

    def _set_claim(self, alert_id: str, change: ClaimChange) -> Alert:
        doc, alert = self._load_alert(alert_id)
        now = utc_now()
        updated, action, actor, details = change(alert, now)
        self._replace_alert(doc, updated, f"{alert_id} changed meanwhile; load it again")
        self._append_audit(
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
        self._append_audit(
            actor=actor,
            action=action,
            target=target,
            reason=reason,
            details=details or {},
            at=utc_now().isoformat(),
        )

    def audit_log(
        self, target: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[AuditEvent]:
        filters: list[dict[str, Any]] = [{"range": {"seq": {"gt": after_seq}}}]
        if target:
            filters.append({"term": {"target": target}})
        hits = self._search(
            "audit",
            {
                "query": {"bool": {"filter": filters}},
                "sort": [{"seq": "asc"}],
                "size": max(1, min(limit, 1000)),
            },
        )
        return [AuditEvent.model_validate_json(json.dumps(h["_source"])) for h in hits]

    def verify_audit_chain(self, signed: Mapping[int, str] | None = None) -> int:
        # An audit, not a hot path: write entries a dead writer left in the head, and make
        # every entry written so far visible.
        self._settle(self._head())
        self._call("refresh", self._client.indices.refresh, index=self.index["audit"])

        def page(after: int) -> list[tuple[AuditEvent, str]]:
            events = self.audit_log(after_seq=after, limit=_PAGE)
            return [(event, _stored_at(event)) for event in events]

        return verify_audit_pages(page, self._audit_key, signed)

    def audit_head(self) -> tuple[int, str]:
        head = self._head()
        return head.seq, head.hash

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        hits = self._search("deadletters", {"sort": [{"at": "asc"}], "size": limit})
        return [DeadLetter.model_validate_json(json.dumps(h["_source"]["record"])) for h in hits]

    def dedup_seeds(self, limit: int) -> Iterator[DedupSeed]:
        # Searches see what was written up to the last refresh: posts a killed worker stored
        # in its last second would be missing, and their repeats taken as new. A warm-up is
        # rare; make everything stored visible first.
        self._call("refresh", self._client.indices.refresh, index=self.index["posts"])
        # Paged with search_after, newest first, until `limit`: one search may return at most
        # 10,000 hits, and a warm-up capped there forgets older posts after a restart.
        newest_first: list[dict[str, Any]] = []
        after: list[Any] | None = None
        while len(newest_first) < limit:
            body: dict[str, Any] = {
                "query": {"bool": {"must_not": {"exists": {"field": "duplicate_kind"}}}},
                "sort": [{"collected_at": "desc"}, {"post_id": "desc"}],
                "size": min(_PAGE * 5, limit - len(newest_first)),
                "_source": ["post_id", "content_hash", "signature", "cluster_id"],
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search("posts", body)
            newest_first.extend(hits)
            if len(hits) < body["size"]:
                break
            after = hits[-1]["sort"]
        for hit in reversed(newest_first):
            yield _seed(hit["_source"])

    def dedup_candidates(
        self, hashes: Sequence[str], bands: Sequence[bytes], limit: int = 1_000
    ) -> list[DedupSeed]:
        if not hashes and not bands:
            return []
        # No refresh: a lookup on every batch must stay cheap. What was stored in the last
        # refresh interval (1 s) is not found; the README says so.
        # Exact matches first (boosted), then band matches oldest first: a template-heavy
        # batch can share bands with more than `limit` posts, and an exact repeat must not be
        # crowded out by near-misses the index will reject anyway.
        body = {
            "query": {
                "bool": {
                    "should": [
                        {"terms": {"content_hash": list(dict.fromkeys(hashes)), "boost": 100}},
                        {"terms": {"dedup_bands": list(dict.fromkeys(b.hex() for b in bands))}},
                    ],
                    "minimum_should_match": 1,
                    "must_not": {"exists": {"field": "duplicate_kind"}},
                }
            },
            "sort": [{"_score": "desc"}, {"collected_at": "asc"}, {"post_id": "asc"}],
            "size": limit,
            "_source": ["post_id", "content_hash", "signature", "cluster_id"],
        }
        return [_seed(hit["_source"]) for hit in self._search("posts", body)]

    def counts(self) -> dict[str, Any]:
        def count(name: str, query: dict[str, Any]) -> int:
            response = self._call(
                "count", self._client.count, index=self.index[name], body={"query": query}
            )
            return int(response["count"])

        def grouped(name: str, field: str) -> dict[str, int]:
            body = {"size": 0, "aggs": {"by": {"terms": {"field": field, "size": 50}}}}
            response = self._call(
                "aggregation", self._client.search, index=self.index[name], body=body
            )
            return {b["key"]: b["doc_count"] for b in response["aggregations"]["by"]["buckets"]}

        no_dup = {"bool": {"must_not": {"exists": {"field": "duplicate_kind"}}}}
        return {
            "posts": count("posts", no_dup),
            "duplicates": count("posts", {"exists": {"field": "duplicate_kind"}}),
            "alerts": grouped("alerts", "status"),
            "dead_letters": grouped("deadletters", "reason_code"),
            "audit_events": count("audit", {"match_all": {}}),
            "checked_at": utc_now().isoformat(),
        }

    def delete_indices(self) -> None:
        """Drop this store's indices (tests, and `canhbao` teardown of a scratch prefix)."""
        for index in self.index.values():
            self._client.indices.delete(index=index, ignore_unavailable=True)

    def close(self) -> None:
        self._client.close()


def _stored_at(event: AuditEvent) -> str:
    # The hash covers the timestamp exactly as it was written: ISO 8601 with the UTC offset.
    return event.at.isoformat()


def _encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_values).encode()).decode("ascii")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise StoreError(f"invalid cursor: {exc}") from None
    if not isinstance(values, list) or len(values) != 3:
        raise StoreError("invalid cursor: not a queue position")
    return values
