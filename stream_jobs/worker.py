"""The stream worker: a Faust agent on Kafka that calls the same `process_batch` as the embedded
runner, stores the result, and only then lets Faust acknowledge (and so commit) the batch.

Delivery is at least once, and harmless when repeated: posts and alerts are stored under ids
derived from the post id, so a redelivered batch creates nothing new. A store outage is waited
out with backoff inside the batch. Classified posts and alerts go on to their topics (keyed by
story cluster) and dead letters to the dead-letter topic, all at least once: consumers
de-duplicate by post/alert id. A redelivered batch publishes its posts again from the store
(`replay_until_stored`), so a worker killed between storing and publishing loses no message.

Faust's `take_events` acknowledges a batch in a `finally`, which runs on an exception, a
cancellation, and when the stream stops (`Stream.on_stop` closes the generator) — each of which
would commit records that were never stored. So a batch is acknowledged only once it is done:
stored, and its downstream messages flushed to the broker. A batch that fails (a bug, an
unmapped error) makes the process exit at once with status 70, before anything is acknowledged.
SIGTERM is held while a batch is in flight: Faust's shutdown starts only between batches, and
if the batch does not finish within `stop_grace_s` (a store that is down) the process exits with
status 70 instead. Either way the batch is redelivered to whoever takes the partition. Faust's
own shutdown after that is bounded too (`shutdown_bound_s`): one that hangs — seen once after a
rebalance — is cut short with the thread stacks logged; nothing is lost by it, since every
batch is stored and published before its offsets are acknowledged, and what was acknowledged
but not yet committed is redelivered and found already stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import faust

from alerting.store import AlertStore
from schemas import ClassifiedPost
from stream_jobs.backends.abstract import ORIGIN_HEADER
from stream_jobs.metrics import PipelineMetrics
from stream_jobs.pipeline import BatchResult, InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import (
    StoreDedupLookup,
    replay_until_stored,
    warm_dedup,
    write_until_stored,
)
from stream_jobs.topics import DEAD_LETTER_MAX_ORIGINAL, SCHEMA_HEADER, Topology

__all__ = ["EXIT_UNACKNOWLEDGED", "BatchGate", "GracefulWorker", "WorkerConfig", "build_worker"]

log = logging.getLogger(__name__)

# The exit status of a worker that stopped with a batch it could not finish (EX_SOFTWARE).
EXIT_UNACKNOWLEDGED = 70


def _exit_unacknowledged(why: str, records: int) -> NoReturn:
    """Leave now, before Faust's `finally` can acknowledge the batch."""
    log.critical(
        "batch not completed; exiting without acknowledging it (it will be redelivered)",
        extra={"why": why, "records": records, "exit_status": EXIT_UNACKNOWLEDGED},
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(EXIT_UNACKNOWLEDGED)


@contextlib.contextmanager
def _exit_on_failure(records: int) -> Iterator[None]:
    """A batch step that fails or is cancelled ends the process before anything of the batch
    can be acknowledged."""
    try:
        yield
    except asyncio.CancelledError:
        _exit_unacknowledged("cancelled while a batch was in flight", records)
    except Exception as exc:
        log.exception("batch failed")
        _exit_unacknowledged(f"{type(exc).__name__}: {exc}", records)


class BatchGate:
    """What the shutdown needs to know of the agent: how many batches are in flight, and
    whether a stop was asked for (then no new batch is started)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.stopping = False


def _exit_after(bound_s: float) -> threading.Timer:
    """A timer that ends the process if the shutdown it guards has not ended it first. A
    thread, not a task: it must fire even when the event loop is what hangs."""

    def expire() -> None:
        log.error(
            "shutdown did not finish in time; exiting (acknowledged batches were all stored"
            " and published; offsets not yet committed are redelivered)",
            extra={"bound_s": bound_s},
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(bound_s, expire)
    timer.daemon = True
    timer.start()
    return timer


class GracefulWorker(faust.Worker):
    """faust.Worker whose SIGTERM waits for the batch in flight (bounded), then stops within
    a second bound whatever is down."""

    def __init__(
        self,
        app: faust.App,
        gate: BatchGate,
        grace_s: float,
        shutdown_bound_s: float = 20.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._gate = gate
        self._grace_s = grace_s
        self._shutdown_bound_s = shutdown_bound_s
        self._waiting: asyncio.Future[None] | None = None

    def _on_sigterm(self) -> None:
        if self._gate.stopping:
            return
        self._gate.stopping = True
        self._waiting = asyncio.ensure_future(self._stop_when_idle(), loop=self.loop)

    async def _stop_when_idle(self) -> None:
        deadline = time.monotonic() + self._grace_s
        while self._gate.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._gate.in_flight:
            _exit_unacknowledged("stopped while a batch was in flight", self._gate.in_flight)
        _exit_after(self._shutdown_bound_s)
        self._schedule_shutdown(signal.SIGTERM)


class WorkerConfig:
    def __init__(
        self,
        bootstrap: str,
        topology: Topology,
        batch_size: int = 256,
        within_s: float = 0.5,
        group_id: str = "canhbao-worker",
        session_timeout_s: float = 10.0,
        web_port: int | None = None,
        lag_interval_s: float = 5.0,
        concurrency: int = 1,
        stop_grace_s: float = 20.0,
        shutdown_bound_s: float = 20.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topology = topology
        self.batch_size = batch_size
        self.within_s = within_s
        self.group_id = group_id
        # How long a silent worker keeps its partitions. Faust's default (60 s) leaves a killed
        # worker's partitions idle for a minute; 10 s is Kafka's classic default.
        self.session_timeout_s = session_timeout_s
        self.web_port = web_port  # Faust's web endpoint, for liveness probes; off by default
        self.lag_interval_s = lag_interval_s
        # Batches in flight per worker. Classification is serialised (the dedup index is this
        # worker's own state); with 2, one batch is classified while the previous one is being
        # stored. Faust commits only runs of consecutive acknowledged offsets, so this keeps
        # at-least-once. Scale further with replicas, up to the raw topic's partitions.
        self.concurrency = concurrency
        # On SIGTERM, how long a batch in flight may take to finish; then exit unacknowledged.
        self.stop_grace_s = stop_grace_s
        # Then how long Faust's own shutdown (commit, leave the group, close) may take.
        self.shutdown_bound_s = shutdown_bound_s


def _origin(event: Any) -> str:
    headers = {k: bytes(v).decode("utf-8", "replace") for k, v in (event.headers or {}).items()}
    message = event.message
    return headers.get(ORIGIN_HEADER) or f"{message.topic}/{message.partition}@{message.offset}"


def build_worker(
    config: WorkerConfig,
    ctx: PipelineContext,
    store: AlertStore,
    metrics: PipelineMetrics | None = None,
    gate: BatchGate | None = None,
) -> faust.App:
    topology = config.topology
    metrics = metrics or PipelineMetrics()
    gate = gate or BatchGate()
    # Workers share the store, not their dedup indexes: each batch's misses are looked up in
    # the store, so a repeat of what another worker stored is a repeat here too.
    lookup = StoreDedupLookup(store)
    ctx = dataclasses.replace(ctx, shared_dedup=ctx.shared_dedup or lookup)
    app = faust.App(
        config.group_id,
        broker=f"kafka://{config.bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        web_enabled=config.web_port is not None,
        web_port=config.web_port or 6066,
        web_bind="0.0.0.0",  # noqa: S104 -- inside a container or pod, for its health probe
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,  # `canhbao topics create` owns partitions and retention
        topic_disable_leader=True,
        producer_acks=-1,
        broker_commit_every=config.batch_size,
        broker_commit_interval=1.0,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 3),
    )
    raw = app.topic(topology.raw, key_type=bytes, value_type=bytes, allow_empty=True)

    classify_lock = threading.Lock()

    def classify(records: list[InboundRecord]) -> BatchResult:
        with classify_lock:
            return process_batch(records, ctx)

    async def publish(messages: list[tuple[str, bytes, bytes, bytes]]) -> None:
        """Hand each (topic, key, value, schema) to the producer, flush, and wait for every
        acknowledgement (acks=all): the batch is done only when the broker has them all, and a
        failed send fails the batch. The producer directly, not `Topic.send`: publishing a
        256-post batch took a median 126 ms this way against 276 ms through Faust's topic
        layer on this machine."""
        producer = app.producer
        receipts = [
            await producer.send(topic, key, value, None, None, {SCHEMA_HEADER: schema})
            for topic, key, value, schema in messages
        ]
        await producer.flush()
        await asyncio.gather(*receipts)

    async def classify_batch(events: list[Any]) -> tuple[list[InboundRecord], BatchResult]:
        records = [InboundRecord(_origin(e), e.value or b"") for e in events]
        # CPU-bound classification and blocking store clients run off the event loop,
        # so Kafka heartbeats keep flowing while a batch is processed.
        result = await asyncio.get_running_loop().run_in_executor(None, classify, records)
        if result.accounted != len(records):
            log.error("batch accounted %d of %d records", result.accounted, len(records))
        return records, result

    async def finish(records: list[InboundRecord], result: BatchResult, started: float) -> None:
        """Store a classified batch, publish what it implies downstream, count it."""
        loop = asyncio.get_running_loop()
        processed = time.perf_counter()
        new_alerts = await loop.run_in_executor(None, write_until_stored, store, result)
        # A redelivery: what its first writer may not have finished is done again.
        again = await loop.run_in_executor(None, replay_until_stored, store, result)
        written = time.perf_counter()
        published = list(zip(result.posts, result.classifications, strict=True))
        published += [(p.post, p.classification) for p in again if p.classification is not None]
        messages = [
            (
                topology.classified,
                post.cluster_id.encode(),
                ClassifiedPost(post=post, classification=verdict).model_dump_json().encode(),
                b"classified_post/1",
            )
            for post, verdict in published
        ]
        messages += [
            (topology.alerts, a.cluster_id.encode(), a.model_dump_json().encode(), b"alert/1")
            for a in [*result.alerts, *(p.alert for p in again if p.alert is not None)]
        ]
        messages += [
            (
                topology.dead_letters,
                letter.reason_code.value.encode(),
                # The store holds the whole record; the topic a copy that fits one message.
                letter.bounded(DEAD_LETTER_MAX_ORIGINAL).model_dump_json().encode(),
                b"dead_letter/1",
            )
            for letter in result.dead_letters
        ]
        await publish(messages)
        flushed = time.perf_counter()
        metrics.observe(result, len(records), new_alerts, time.perf_counter() - started)
        log.info(
            "batch stored",
            extra={
                "records": len(records),
                "processed": len(result.posts),
                "duplicates": len(result.duplicates),
                "dead_letters": len(result.dead_letters),
                "new_alerts": new_alerts,
                "republished": len(again),
                "process_ms": round((processed - started) * 1000),
                "store_ms": round((written - processed) * 1000),
                "publish_ms": round((flushed - written) * 1000),
            },
        )

    slots = asyncio.Semaphore(config.concurrency)
    running: set[asyncio.Future[None]] = set()

    async def finish_and_ack(
        stream: Any, events: list[Any], records: list[InboundRecord], result: BatchResult,
        started: float,
    ) -> None:  # fmt: skip
        try:
            with _exit_on_failure(len(events)):
                await finish(records, result, started)
                for event in events:
                    await stream.ack(event)  # the hold taken in `pipeline`: now it may commit
        finally:
            gate.in_flight -= 1
            slots.release()

    # One actor, so batches are classified in the order their records arrived: repeats are
    # co-partitioned with what they repeat, and a partition's order is what makes "the first
    # seen" the original (the same as the embedded run). Faust's own `concurrency` would share
    # one queue between actors and interleave a partition's records between their batches.
    # Overlap comes instead from storing and publishing up to `concurrency` batches while the
    # next is classified. `take_events` acknowledges a batch when the loop moves on; each
    # event is held by one extra reference until its batch is stored and published, so
    # that acknowledgement cannot commit it — Faust commits only offsets whose every
    # reference is released, and only runs of consecutive ones.
    @app.agent(raw)
    async def pipeline(stream: Any) -> None:
        async for events in stream.take_events(config.batch_size, within=config.within_s):
            batch = list(events)
            if gate.stopping:  # a batch arrived after the stop began: leave it for the next one
                _exit_unacknowledged("stopping; batch not started", len(batch))
            for event in batch:
                event.message.incref()
            gate.in_flight += 1
            started = time.perf_counter()
            with _exit_on_failure(len(batch)):
                records, result = await classify_batch(batch)
                await slots.acquire()
            task = asyncio.ensure_future(finish_and_ack(stream, batch, records, result, started))
            running.add(task)  # a reference, so the task is not collected while it runs
            task.add_done_callback(running.discard)

    async def rewarm_dedup(sender: Any, assigned: Any, **kwargs: Any) -> None:
        """Partitions that moved here carry posts another worker stored: load them before
        this worker judges repeats (the index is this worker's own; the store is shared)."""
        if not assigned:
            return

        def rewarm() -> int:
            with classify_lock:
                return warm_dedup(store, ctx.dedup, ctx.dedup.capacity)

        loaded = await asyncio.get_running_loop().run_in_executor(None, rewarm)
        metrics.dedup_index_size.set(len(ctx.dedup))
        # Alone on the input (every partition here), nobody else writes: no look-ups needed.
        owned = {tp.partition for tp in assigned if tp.topic == topology.raw}
        total = app.consumer.topic_partitions(topology.raw)
        lookup.others_writing = total is None or len(owned) < total
        log.info(
            "dedup index re-warmed",
            extra={
                "partitions": len(assigned),
                "seeds": loaded,
                "store_lookups": lookup.others_writing,
            },
        )

    app.on_partitions_assigned.connect(rewarm_dedup)  # type: ignore[arg-type]  # mode's typing

    @app.timer(interval=config.lag_interval_s)  # type: ignore[untyped-decorator]  # faust: untyped
    async def report_lag() -> None:
        for tp in app.consumer.assignment():
            position = await app.consumer.position(tp)
            try:
                highwater = app.consumer.highwater(tp)
            except (KeyError, TypeError):
                continue  # not fetched from yet
            if position is not None and highwater is not None:
                lag = max(0, highwater - position)
                metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    return app
