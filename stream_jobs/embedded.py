"""The embedded runner: the whole pipeline in one process, no servers.

A reader thread produces records into the in-process bus (bounded: it waits when the pipeline is
behind); the main thread polls batches, runs `process_batch`, stores the result in one
transaction and only then commits — the same order a Kafka worker follows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from alerting.store import AlertStore
from stream_jobs.backends import InMemoryBus
from stream_jobs.backends.abstract import ORIGIN_HEADER
from stream_jobs.exceptions import PipelineError
from stream_jobs.metrics import PipelineMetrics
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch, warm_dedup
from stream_jobs.summary import RunSummary

__all__ = ["RAW_TOPIC", "EmbeddedRunner"]

log = logging.getLogger(__name__)

RAW_TOPIC = "posts.raw"
_ENQUEUED_NS = "enqueued_ns"


@dataclass
class EmbeddedRunner:
    ctx: PipelineContext
    store: AlertStore
    metrics: PipelineMetrics = field(default_factory=PipelineMetrics)
    batch_size: int = 256
    max_pending: int = 4096
    latencies_ms: list[float] = field(default_factory=list)

    def warm_up(self, limit: int) -> int:
        """Load the most recent posts into the dedup index, so a re-run sees no new posts."""
        count = warm_dedup(self.store, self.ctx.dedup, limit)
        self.metrics.dedup_index_size.set(len(self.ctx.dedup))
        return count

    def run(
        self,
        records: Iterable[InboundRecord],
        progress: Callable[[RunSummary], None] | None = None,
    ) -> RunSummary:
        bus = InMemoryBus(max_pending=self.max_pending)
        consumer = bus.consumer(RAW_TOPIC)
        failure: list[BaseException] = []

        def read() -> None:
            try:
                for record in records:
                    headers = {
                        ORIGIN_HEADER: record.origin,
                        _ENQUEUED_NS: str(time.perf_counter_ns()),
                    }
                    bus.produce(RAW_TOPIC, record.data, headers=headers)
            except BaseException as exc:  # surfaced by the consumer side below
                failure.append(exc)
            finally:
                bus.close_topic(RAW_TOPIC)

        reader = threading.Thread(target=read, name="canhbao-reader", daemon=True)
        summary = RunSummary()
        started = time.perf_counter()
        reader.start()
        while not consumer.exhausted:
            messages = consumer.poll_batch(self.batch_size, timeout_s=0.2)
            if not messages:
                continue
            t0 = time.perf_counter()
            batch = [InboundRecord(m.origin, m.value) for m in messages]
            result = process_batch(batch, self.ctx)
            if result.accounted != len(batch):
                raise PipelineError(f"batch lost records: {len(batch)} in, {result.accounted} out")
            new_alerts = self.store.write_batch(stored_batch(result))
            consumer.commit()
            done_ns = time.perf_counter_ns()
            self.latencies_ms.extend(
                (done_ns - int(m.headers[_ENQUEUED_NS])) / 1e6 for m in messages
            )
            summary.add(result, len(batch), new_alerts)
            self.metrics.observe(result, len(batch), new_alerts, time.perf_counter() - t0)
            self.metrics.dedup_index_size.set(len(self.ctx.dedup))
            if progress is not None:
                progress(summary)
        reader.join()
        summary.elapsed_s = time.perf_counter() - started
        if failure:
            raise PipelineError(f"reading the input failed: {failure[0]}") from failure[0]
        return summary
