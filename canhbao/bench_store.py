"""The store path against a plain `_bulk` of the same documents, side by side on one node.

Both halves write what one run of the pipeline produced, in batches of the same size: the
reference sends the finished bulk lines with one plain `_bulk` request per batch (no audit
chain, no reads, no replay checks); the store path is `OpenSearchStore.write_batch`, everything
included. Their ratio, with the documents written per post, says how close the store comes to
the engine's own speed whatever the machine's."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from alerting.store.opensearch import OpenSearchStore, _chained, _created_entry
from canhbao.settings import Settings
from canhbao.synthetic import synthetic_posts
from canhbao.wiring import build_context, load_classifier
from stream_jobs.pipeline import BatchResult, InboundRecord, process_batch
from stream_jobs.storing import stored_batch

__all__ = ["StorePathResult", "bench_store_path"]


@dataclass(frozen=True)
class StorePathResult:
    posts: int
    docs: int  # documents the raw reference wrote: posts, sightings, alerts, audit entries, …
    raw_docs_per_s: float
    store_posts_per_s: float

    @property
    def docs_per_post(self) -> float:
        return self.docs / self.posts

    @property
    def ratio(self) -> float:
        """Store posts/s over the posts/s the raw rate allows at this many docs per post."""
        return self.store_posts_per_s / (self.raw_docs_per_s / self.docs_per_post)


def _processed_batches(settings: Settings, posts: int, batch_size: int) -> list[BatchResult]:
    ctx = build_context(settings, load_classifier(settings))
    records = [InboundRecord(f"synthetic:{i}", d) for i, d in enumerate(synthetic_posts(posts))]
    return [
        process_batch(records[start : start + batch_size], ctx)
        for start in range(0, len(records), batch_size)
    ]


def _raw_lines(store: OpenSearchStore, result: BatchResult, seq: int) -> list[dict[str, Any] | str]:
    """The documents `write_batch` leaves behind for this batch, as plain bulk lines."""
    batch = stored_batch(result)
    audit = _chained(b"\0" * 32, seq, "0" * 64, [_created_entry(a) for a in batch.alerts])
    return [
        *store._alert_lines(batch),
        *store._dead_letter_lines(batch),
        *store._audit_lines(audit),
        *store._post_lines(batch),
    ]


def bench_store_path(
    settings: Settings, audit_key: bytes, posts: int, batch_size: int
) -> StorePathResult:
    batches = _processed_batches(settings, posts, batch_size)
    prefix = f"benchstore{secrets.token_hex(4)}"
    raw = OpenSearchStore.connect(settings.opensearch_url, f"{prefix}raw", audit_key=audit_key)
    ours = OpenSearchStore.connect(settings.opensearch_url, f"{prefix}ours", audit_key=audit_key)
    try:
        seq, bodies = 0, []
        for result in batches:
            lines = _raw_lines(raw, result, seq)
            seq += len(result.alerts)
            text = (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
            bodies.append("\n".join(text) + "\n")
        docs = sum(body.count("\n") for body in bodies) // 2
        # Interleaved batch by batch, so that both halves see the node in the same state
        # (merges, JIT, page cache) instead of one getting its warm-up and the other not.
        raw_s = ours_s = 0.0
        for body, result in zip(bodies, batches, strict=True):
            started = time.perf_counter()
            response = raw._client.bulk(body=body)
            raw_s += time.perf_counter() - started
            if response["errors"]:
                raise RuntimeError("bench: the raw _bulk reference had item errors")
            started = time.perf_counter()
            ours.write_batch(stored_batch(result))
            ours_s += time.perf_counter() - started
        raw_rate, store_rate = docs / raw_s, posts / ours_s
    finally:
        for store in (raw, ours):
            store.delete_indices()
            store.close()
    return StorePathResult(posts, docs, raw_rate, store_rate)
