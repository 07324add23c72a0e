"""Benchmarks. Each prints a human summary, then a final `key=value …` line for tooling."""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from alerting.store import SQLiteStore
from canhbao.settings import Settings
from canhbao.synthetic import synthetic_posts
from canhbao.wiring import build_context, load_classifier
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.pipeline import InboundRecord

__all__ = ["bench_pipeline", "rss_mb"]


def rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak resident set of this process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_pipeline(settings: Settings, posts: int, batch_size: int) -> dict[str, float]:
    classifier = load_classifier(settings)
    records = [
        InboundRecord(f"synthetic:{i}", data)
        for i, data in enumerate(synthetic_posts(posts), start=1)
    ]
    with tempfile.TemporaryDirectory(prefix="canhbao-bench-") as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        # A queue of two batches: the latency measured is processing, not a deep backlog.
        runner = EmbeddedRunner(
            build_context(settings, classifier),
            store,
            batch_size=batch_size,
            max_pending=2 * batch_size,
        )
        started = time.perf_counter()
        summary = runner.run(records)
        elapsed = time.perf_counter() - started
        store.close()
    print(summary.render())
    latencies = np.asarray(runner.latencies_ms)
    return {
        "posts": float(posts),
        "posts_per_s": round(posts / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "rss_mb": round(rss_mb(), 1),
    }
