"""The collector process: one HTTP client, one checkpoint store, every source on a schedule."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context

import httpx

from ingest.checkpoints import CheckpointStore
from ingest.collected import CollectContext
from ingest.delivery import PostSink
from ingest.egress import EgressPolicy, guarded_async_transport
from ingest.http import Fetcher
from ingest.metrics import CollectorMetrics
from ingest.scheduler import CollectorDeadLetters, SourceReport, collect_round, run_forever
from ingest.sources import Source, SourceRegistry

__all__ = ["CollectorRuntime"]


@dataclass
class CollectorRuntime:
    registry: SourceRegistry
    checkpoints: CheckpointStore
    dead_letters: CollectorDeadLetters
    metrics: CollectorMetrics = field(default_factory=CollectorMetrics)
    extract_workers: int = 0  # 0: extract in threads; n: in a pool of n processes (CPU-bound)
    backoff_base_s: float = 0.5
    transport: httpx.AsyncBaseTransport | None = None  # tests inject httpx.MockTransport
    # "Now" for freshness windows and per-URL backoff; tests move it forward.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def _client(self) -> httpx.AsyncClient:
        defaults = self.registry.defaults
        limits = httpx.Limits(
            max_connections=defaults.concurrency * defaults.per_host_concurrency,
            max_keepalive_connections=defaults.concurrency * 2,
        )
        # Tests inject a mock transport; a real run connects only through the egress guard.
        transport = self.transport or guarded_async_transport(
            EgressPolicy.allowing(self.registry.internal_endpoints()), limits
        )
        return httpx.AsyncClient(
            transport=transport,
            limits=limits,
            follow_redirects=False,
            timeout=defaults.timeout_s,
            trust_env=False,  # a proxy from the environment would bypass the guard
        )

    async def run(
        self,
        sink: PostSink,
        sources: Sequence[Source] | None = None,
        *,
        once: bool = True,
        stop: asyncio.Event | None = None,
        on_report: Callable[[SourceReport], None] | None = None,
    ) -> list[SourceReport]:
        chosen = [s for s in (sources or self.registry.sources) if s.enabled]
        pool: Executor | None = (
            # forkserver: forking a process that runs threads (the embedded pipeline) is unsafe.
            ProcessPoolExecutor(self.extract_workers, mp_context=get_context("forkserver"))
            if self.extract_workers > 0
            else None
        )
        try:
            async with self._client() as client:
                fetcher = Fetcher(
                    client, self.registry.defaults, self.metrics, backoff_base_s=self.backoff_base_s
                )
                ctx = CollectContext(fetcher, self.metrics, pool, self.clock)
                concurrency = self.registry.defaults.concurrency
                if once:
                    return await collect_round(
                        chosen,
                        ctx,
                        self.checkpoints,
                        sink,
                        self.dead_letters,
                        concurrency,
                        on_report,
                    )
                await run_forever(
                    chosen,
                    ctx,
                    self.checkpoints,
                    sink,
                    self.dead_letters,
                    stop or asyncio.Event(),
                    concurrency,
                )
                return []
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
