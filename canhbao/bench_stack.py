"""`canhbao bench stack`: synthetic posts through Kafka → `canhbao worker` → OpenSearch.

Two phases on one worker: as fast as the producer can go (throughput: all posts stored), then
at a fixed rate (latency: a post produced → its alert searchable, found by polling the index
as an analyst's queue would). Needs the stack of `make stack-up`; uses its own topics and
indices and deletes the indices afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from alerting.store.opensearch import OpenSearchStore
from canhbao.bench import bench_pipeline
from canhbao.bench_store import bench_store_path
from canhbao.faults import wait_until
from canhbao.settings import Settings, load_audit_key
from canhbao.synthetic import synthetic_posts
from schemas import post_id_for, utc_now
from stream_jobs.backends.kafka import KafkaProducerBackend, ensure_topics
from stream_jobs.topics import Topology

__all__ = ["bench_stack"]


def _count(store: OpenSearchStore, name: str) -> int:
    store._client.indices.refresh(index=store.index[name])
    return int(store._client.count(index=store.index[name])["count"])


def _produce(
    producer: KafkaProducerBackend,
    topic: str,
    posts: list[bytes],
    rate: float | None,
    sent: dict[str, float] | None = None,
) -> dict[str, float]:
    """Produce `posts` (at `rate` per second, or flat out); fill post id → produce time."""
    sent = {} if sent is None else sent
    started = time.monotonic()
    for i, data in enumerate(posts):
        if rate:
            pause = started + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        record = json.loads(data)
        sent[post_id_for(record["platform"], record["external_id"])] = time.time()
        producer.produce(topic, data)
    producer.flush()
    return sent


def bench_stack(settings: Settings, posts: int, rate: float, log_dir: Path) -> dict[str, float]:
    """The stack's throughput and latency, with its two references measured in the same run:
    the embedded pipeline on the same posts (what the stack adds over the pipeline) and the
    store path against a plain `_bulk` of the same documents (what the store adds over the
    engine). Both run before the worker starts, so that no phase shares the CPU with another."""
    audit_key = load_audit_key(settings)
    embedded = bench_pipeline(settings, posts, settings.batch_size)
    store_path = bench_store_path(settings, audit_key, min(posts, 10_000), settings.batch_size)
    print(
        f"store path: raw _bulk {store_path.raw_docs_per_s:.0f} docs/s,"
        f" {store_path.docs_per_post:.2f} docs/post → at most"
        f" {store_path.raw_docs_per_s / store_path.docs_per_post:.0f} posts/s;"
        f" write_batch {store_path.store_posts_per_s:.0f} posts/s (ratio {store_path.ratio:.2f})"
    )
    measured = _stack(settings, posts, rate, log_dir, audit_key)
    print(
        f"stack {measured['posts_per_s']:.0f} posts/s against embedded"
        f" {embedded['posts_per_s']:.0f} posts/s"
        f" (ratio {measured['posts_per_s'] / embedded['posts_per_s']:.2f});"
        f" at {rate:g} posts/s: p50 {measured['p50_ms']:.0f} ms, p95 {measured['p95_ms']:.0f} ms"
    )
    raw_posts_per_s = store_path.raw_docs_per_s / store_path.docs_per_post
    return measured | {
        "embedded_posts_per_s": embedded["posts_per_s"],
        "vs_embedded": round(measured["posts_per_s"] / embedded["posts_per_s"], 3),
        "raw_bulk_docs_per_s": round(store_path.raw_docs_per_s, 1),
        "docs_per_post": round(store_path.docs_per_post, 3),
        "store_posts_per_s": round(store_path.store_posts_per_s, 1),
        "store_vs_raw": round(store_path.ratio, 3),
        "stack_vs_raw": round(measured["posts_per_s"] / raw_posts_per_s, 3),
    }


def _stack(
    settings: Settings, posts: int, rate: float, log_dir: Path, audit_key: bytes
) -> dict[str, float]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    topology = Topology(prefix=prefix, partitions=settings.topic_partitions)
    ensure_topics(settings.kafka_bootstrap, topology.specs())
    # The worker it starts loads the same key from the same settings.
    store = OpenSearchStore.connect(settings.opensearch_url, prefix=prefix, audit_key=audit_key)
    env = {
        **os.environ,
        "CANHBAO_STORE_BACKEND": "opensearch",
        "CANHBAO_TOPIC_PREFIX": prefix,
        "CANHBAO_INDEX_PREFIX": prefix,
        "CANHBAO_LOG_FORMAT": "json",
        "CANHBAO_LOG_LEVEL": "INFO",  # per-batch timings in the log, for diagnosis
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / f"{prefix}-worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "canhbao", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    producer = KafkaProducerBackend(settings.kafka_bootstrap)
    try:
        # Warm-up: the worker has joined its group once a first post is stored.
        warm = list(synthetic_posts(50, seed=99))
        _produce(producer, topology.raw, warm, rate=None)
        wait_until(lambda: _count(store, "posts") >= 50, 120, "the worker to start")

        flat_out = list(synthetic_posts(posts, seed=1))
        t0 = time.monotonic()
        _produce(producer, topology.raw, flat_out, rate=None)
        wait_until(lambda: _count(store, "posts") >= 50 + posts, 1800, "the throughput phase")
        throughput = posts / (time.monotonic() - t0)

        paced = list(synthetic_posts(posts // 4, seed=2))  # fewer: paced phases are slow
        phase_start = utc_now().isoformat()
        sent: dict[str, float] = {}
        # Produce in the background and poll meanwhile: latency is measured as it happens.
        pacer = threading.Thread(
            target=_produce, args=(producer, topology.raw, paced, rate, sent), daemon=True
        )
        pacer.start()
        total = 50 + posts + len(paced)
        seen: dict[str, float] = {}
        after: list[Any] | None = None
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 600
        # Read only alerts that became searchable since the last poll (one worker writes its
        # batches in order, so creation order is visibility order); no forced refreshes, so
        # "searchable" means what it means for an analyst: after the index's own refresh.
        while time.monotonic() < deadline:
            body: dict[str, Any] = {
                "size": 1000,
                "_source": ["post_id"],
                "query": {"range": {"created_at": {"gte": phase_start}}},
                "sort": [{"created_at": "asc"}, {"alert_id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = store._client.search(index=store.index["alerts"], body=body)["hits"]["hits"]
            now = time.time()
            for hit in hits:
                seen.setdefault(hit["_source"]["post_id"], now)
                after = hit["sort"]
                quiet_since = time.monotonic()
            stored = store._client.count(index=store.index["posts"])["count"]
            if stored >= total and time.monotonic() - quiet_since > 3:
                break
            time.sleep(0.1)
        pacer.join()
        seen = {pid: t for pid, t in seen.items() if pid in sent}
        latencies = np.array([(seen[pid] - sent[pid]) * 1000 for pid in seen])
    finally:
        producer.close()
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
        store.delete_indices()
        store.close()
    return {
        "posts_per_s": round(throughput, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies.size else -1.0,
        "p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies.size else -1.0,
        "rate": rate,
        "alerts_timed": float(latencies.size),
    }
