"""The OpenSearch review store: the same `AlertStore` contract as SQLite, on a search engine.

Consistency without transactions:
- posts and alerts are created with their post-derived ids (`op_type=create`), so a replayed
  batch changes nothing and counts no new alert;
- a decision is serialised by creating the decision document `<alert>:<version>` — two analysts
  deciding one version of an alert cannot both create it — and the alert itself is updated with
  `if_seq_no`/`if_primary_term`;
- the audit log is append-only and hash-chained: entry N is created with id N, and a small head
  document records the last entry; an appender that finds entry N already written (a writer
  that died before moving the head) moves the head on and tries N + 1;
- an alert is flagged `created_audited` once its "alert.created" entry is written. A batch
  replayed after a crash between the two writes finds the alert unflagged and writes the
  missing entry (after checking it is really missing), so every alert is audited exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, OpenSearchException

from alerting.exceptions import AlertNotFound, DecisionConflict, StoreError
from alerting.store.base import (
    AlertDetail,
    AlertPage,
    AlertQuery,
    DedupSeed,
    Processed,
    StoredBatch,
    checked_audit_key,
    verify_audit_pages,
)
from alerting.store.decisions import (
    ClaimChange,
    ClaimMethods,
    apply_decision,
    audit_details,
    check_decidable,
)
from alerting.store.search_schema import INDEX_SETTINGS, MAPPINGS
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

__all__ = ["OpenSearchStore"]

_HEAD_ID = "head"
_PAGE = 1000
_POOL_SIZE = 16


def _doc(model: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(model.model_dump_json())
    return result


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

    def _head(self) -> tuple[int, str, dict[str, int] | None]:
        doc = self._get("audit_head", _HEAD_ID)
        if doc is None:
            return 0, GENESIS_HASH, None
        source = doc["_source"]
        guard = {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
        return int(source["seq"]), str(source["hash"]), guard

    def _move_head(self, seq: int, digest: str, guard: dict[str, int] | None) -> None:
        body = {"seq": seq, "hash": digest}
        kwargs: dict[str, Any] = guard or {"op_type": "create"}
        # On conflict another appender moved the head; it found our entry first (see below).
        # Through `_call`: an outage here must surface as a StoreError the runner waits out.
        with contextlib.suppress(ConflictError):
            self._call(
                "audit head",
                self._client.index,
                index=self.index["audit_head"],
                id=_HEAD_ID,
                body=body,
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
        for _ in range(100):
            seq, prev, guard = self._head()
            seq += 1
            existing = self._get("audit", str(seq))
            if existing is not None:
                # Entry `seq` exists but the head lags: its writer stopped between the two
                # writes. Finish its work and try the next slot.
                self._move_head(seq, existing["_source"]["hash"], guard)
                continue
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
            body = {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action.value,
                "target": target,
                "reason": reason,
                "details": details,
                "prev_hash": prev,
                "hash": digest,
            }
            try:
                self._call(
                    "audit append",
                    self._client.index,
                    index=self.index["audit"],
                    id=str(seq),
                    body=body,
                    op_type="create",
                    refresh=self._refresh,
                )
            except ConflictError:
                continue  # someone else took slot `seq`: read the head again
            self._move_head(seq, digest, guard)
            return
        raise StoreError("audit append kept conflicting; is something writing in a loop?")

    # writes -----------------------------------------------------------------------------

    def _bulk(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not lines:
            return []
        body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
        response = self._call("bulk write", self._client.bulk, body=body, refresh=self._refresh)
        items: list[dict[str, Any]] = [next(iter(item.values())) for item in response["items"]]
        failed = [i for i in items if i.get("error") and i.get("status") != 409]
        if failed:
            raise StoreError(f"{len(failed)} bulk item(s) failed, first: {failed[0]['error']}")
        return items

    def write_batch(self, batch: StoredBatch) -> int:
        """Write order is the recovery plan: alerts, their audit entries and dead letters
        first, posts last. A stored post means its batch is complete — and the dedup index of a
        restarted worker is warmed from stored posts, so a batch cut short by a crash is
        reprocessed in full on redelivery rather than skipped as "already seen"."""
        created = self._write_alerts(batch)
        self._bulk(self._dead_letter_lines(batch))
        self._bulk(self._post_lines(batch))
        return created

    def _alert_lines(
        self, batch: StoredBatch, created_audited: bool = False
    ) -> list[dict[str, Any]]:
        """Bulk `create` lines for the batch's alerts, each with its post's words to search."""
        posts = {p.post_id: p for p in batch.posts}
        lines: list[dict[str, Any]] = []
        for alert in batch.alerts:
            post = posts.get(alert.post_id)
            lines.append({"create": {"_index": self.index["alerts"], "_id": alert.alert_id}})
            lines.append(
                self._alert_body(
                    alert,
                    post.raw.platform.value if post else "other",
                    created_audited=created_audited,
                    text=f"{post.title or ''}\n{post.text}" if post else "",
                )
            )
        return lines

    def _write_alerts(self, batch: StoredBatch) -> int:
        statuses = [item["status"] for item in self._bulk(self._alert_lines(batch))]
        created = [a for a, code in zip(batch.alerts, statuses, strict=True) if code == 201]
        existing = [a for a, code in zip(batch.alerts, statuses, strict=True) if code == 409]
        for alert in [*created, *self._unaudited(existing)]:
            self._append_audit(
                actor=f"system:{alert.model_version}",
                action=AuditAction.ALERT_CREATED,
                target=alert.alert_id,
                reason=None,
                details={
                    "labels": [label.value for label in alert.labels],
                    "severity": alert.severity.value,
                },
                at=alert.created_at.isoformat(),
            )
            self._flag_audited(alert.alert_id)
        return len(created)

    def _dead_letter_lines(self, batch: StoredBatch) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for letter in batch.dead_letters:
            lines.append({"create": {"_index": self.index["deadletters"], "_id": letter.key}})
            lines.append(
                {
                    "at": letter.at.isoformat(),
                    "reason_code": letter.reason_code.value,
                    "origin": letter.origin,
                    "record": _doc(letter),
                }
            )
        return lines

    def _post_lines(self, batch: StoredBatch) -> list[dict[str, Any]]:
        classified = {c.post_id: c for c in batch.classifications}
        sightings = [d for d in batch.duplicates if d.duplicate_kind is not DuplicateKind.SAME_POST]
        lines: list[dict[str, Any]] = []
        for post in [*batch.posts, *sightings]:
            result = classified.get(post.post_id)
            signature = batch.signatures.get(post.post_id)
            lines.append({"create": {"_index": self.index["posts"], "_id": post.post_id}})
            lines.append(
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
                    "duplicate_kind": post.duplicate_kind.value if post.duplicate_kind else None,
                    "collected_at": post.raw.collected_at.isoformat(),
                    "title": post.title,
                    "text": post.text,
                    "labels": [label.value for label in result.labels] if result else [],
                    "signature": base64.b64encode(signature).decode() if signature else None,
                    "record": _doc(post),
                    "classification": _doc(result) if result else None,
                }
            )
        return lines

    def _flag_audited(self, alert_id: str) -> None:
        self._call(
            "audit flag",
            self._client.update,
            index=self.index["alerts"],
            id=alert_id,
            body={"doc": {"created_audited": True}},
            refresh=self._refresh,
        )

    def _unaudited(self, alerts: list[Alert]) -> list[Alert]:
        """Of alerts that already existed (a replayed batch), those whose "alert.created"
        entry was never written: their writer died between the two writes."""
        if not alerts:
            return []
        response = self._call(
            "alert read",
            self._client.mget,
            index=self.index["alerts"],
            body={"ids": [a.alert_id for a in alerts]},
            _source_includes=["created_audited"],
        )
        flagged = {
            d["_id"]
            for d in response["docs"]
            if d.get("found") and d["_source"].get("created_audited")
        }
        suspects = [a for a in alerts if a.alert_id not in flagged]
        if not suspects:
            return []
        self._call("refresh", self._client.indices.refresh, index=self.index["audit"])
        missing = []
        for alert in suspects:
            query = {
                "bool": {
                    "filter": [
                        {"term": {"target": alert.alert_id}},
                        {"term": {"action": AuditAction.ALERT_CREATED.value}},
                    ]
                }
            }
            found = self._call(
                "audit check", self._client.count, index=self.index["audit"], body={"query": query}
            )
            if found["count"] == 0:
                missing.append(alert)
            else:  # the entry was written; only the flag was lost
                self._flag_audited(alert.alert_id)
        return missing

    @staticmethod
    def _alert_body(
        alert: Alert, platform: str, created_audited: bool = False, text: str = ""
    ) -> dict[str, Any]:
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
            "created_audited": created_audited,
            "text": text,
            "assignee": alert.assignee,
            "claimed_until": alert.claimed_until.isoformat() if alert.claimed_until else None,
            "record": _doc(alert),
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
                    created_audited=source.get("created_audited", False),
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
        # An audit, not a hot path: make every entry written so far visible first.
        self._call("refresh", self._client.indices.refresh, index=self.index["audit"])

        def page(after: int) -> list[tuple[AuditEvent, str]]:
            events = self.audit_log(after_seq=after, limit=_PAGE)
            return [(event, _stored_at(event)) for event in events]

        return verify_audit_pages(page, self._audit_key, signed)

    def audit_head(self) -> tuple[int, str]:
        seq, digest, _ = self._head()
        return seq, digest

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        hits = self._search("deadletters", {"sort": [{"at": "asc"}], "size": limit})
        return [DeadLetter.model_validate_json(json.dumps(h["_source"]["record"])) for h in hits]

    def dedup_seeds(self, limit: int) -> Iterator[DedupSeed]:
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
            source = hit["_source"]
            signature = source.get("signature")
            yield DedupSeed(
                source["post_id"],
                source["content_hash"],
                base64.b64decode(signature) if signature else None,
                source["cluster_id"],
            )

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
