"""`canhbao bench collect`: collectors against local fixture news sites.

The sites run in a separate process (so serving pages does not compete with the collector for
the GIL): `hosts` sites on their own ports, each with `sources_per_host` feeds of
`articles_per_source` articles; one site answers every page slowly. Measured: articles fetched
and extracted per second over the fast sites, and whether the slow site held the others up
(the fast sites' sources must finish long before the slow one's).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from ingest.checkpoints import CheckpointStore
from ingest.fixture_server import FixtureServer
from ingest.fixture_site import publish_site
from ingest.runtime import CollectorRuntime
from ingest.scheduler import CollectorDeadLetters, SourceReport
from ingest.sources import CollectorDefaults, RssSource, SourceRegistry
from schemas import RawPost

__all__ = ["bench_collect"]


def _serve_sites(
    hosts: int, per_host: int, articles: int, slow_delay_s: float, conn: Connection
) -> None:
    servers = []
    for h in range(hosts):
        server = FixtureServer()
        for s in range(per_host):
            first = (h * per_host + s) * articles
            publish_site(
                server,
                range(first, first + articles),
                prefix=f"/s{s}",
                delay_s=slow_delay_s if h == 0 else 0.0,
            )
        servers.append(server.start())
    conn.send([server.base_url for server in servers])
    conn.recv()  # run until told to stop
    for server in servers:
        server.stop()


class _CountingSink:
    def __init__(self) -> None:
        self.posts = 0
        self.chars = 0

    def deliver(self, posts: Sequence[RawPost]) -> None:
        self.posts += len(posts)
        self.chars += sum(len(p.text) for p in posts)


@dataclass
class _Run:
    reports: list[SourceReport]
    elapsed_s: float
    fast_done_s: float


def bench_collect(
    hosts: int = 10,
    sources_per_host: int = 10,
    articles_per_source: int = 20,
    slow_delay_s: float = 1.0,
    extract_workers: int | None = None,
) -> dict[str, float]:
    workers = extract_workers if extract_workers is not None else (os.cpu_count() or 1)
    parent, child = multiprocessing.Pipe()
    context = multiprocessing.get_context("spawn")
    server = context.Process(
        target=_serve_sites,
        args=(hosts, sources_per_host, articles_per_source, slow_delay_s, child),
        daemon=True,
    )
    server.start()
    try:
        base_urls: list[str] = parent.recv()
        sources = [
            RssSource(
                name=f"h{h}-s{s}", type="rss", url=f"{base}/s{s}/rss.xml", allow_internal=True
            )
            for h, base in enumerate(base_urls)
            for s in range(sources_per_host)
        ]
        # Politeness as in production, per host: 4 in flight; the rate cap is lifted because
        # these hosts are ours.
        defaults = CollectorDefaults(
            per_host_concurrency=4, per_host_rate_per_s=10_000.0, concurrency=len(sources)
        )
        with tempfile.TemporaryDirectory(prefix="canhbao-bench-collect-") as tmp:
            runtime = CollectorRuntime(
                SourceRegistry(defaults=defaults, sources=tuple(sources)),
                CheckpointStore(Path(tmp) / "checkpoints.db"),
                CollectorDeadLetters(Path(tmp) / "dead.jsonl"),
                extract_workers=workers,
            )
            sink = _CountingSink()
            run = asyncio.run(_timed(runtime, sink, slow_prefix="h0-"))
            runtime.checkpoints.close()
    finally:
        parent.send("stop")
        server.join(timeout=10)
    fast = [r for r in run.reports if not r.source.startswith("h0-")]
    slow = [r for r in run.reports if r.source.startswith("h0-")]
    fast_articles = sum(r.new for r in fast)
    failures = sum(len(r.failures) for r in run.reports)
    print(
        f"{len(sources)} sources on {hosts} hosts ({sources_per_host} feeds each), "
        f"{articles_per_source} articles per feed; host h0 answers in {slow_delay_s:.1f} s"
    )
    print(
        f"fast hosts: {fast_articles} articles in {run.fast_done_s:.2f} s; slow host: "
        f"{sum(r.new for r in slow)} articles, all done at {run.elapsed_s:.2f} s; "
        f"failures: {failures}; extraction processes: {workers}"
    )
    return {
        "sources": float(len(sources)),
        "articles": float(sink.posts),
        "failures": float(failures),
        "fast_hosts_done_s": round(run.fast_done_s, 2),
        "all_done_s": round(run.elapsed_s, 2),
        "articles_per_s": round(fast_articles / run.fast_done_s, 1),
    }


async def _timed(runtime: CollectorRuntime, sink: _CountingSink, slow_prefix: str) -> _Run:
    started = time.perf_counter()
    done: dict[str, float] = {}

    def finished(report: SourceReport) -> None:
        done[report.source] = time.perf_counter() - started

    reports = await runtime.run(sink, on_report=finished)
    elapsed = time.perf_counter() - started
    fast_done = max(t for name, t in done.items() if not name.startswith(slow_prefix))
    return _Run(reports, elapsed, fast_done)
