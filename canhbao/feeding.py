"""Feed posts into the pipeline: the embedded runner (one process) or the raw-posts topic.

Every way in — a file (`run`, `import`), the collectors (`collect`), the signed intake — goes
through one of these, so the embedded and Kafka modes accept posts the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from canhbao.settings import Settings, load_pseudonym_key
from canhbao.wiring import build_context, load_classifier, open_store, topology
from ingest.delivery import PostSink, RecordQueueSink
from schemas import RejectReason, utc_now
from stream_jobs.backends.abstract import ORIGIN_HEADER
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.exceptions import RejectedRecord
from stream_jobs.metrics import PipelineMetrics
from stream_jobs.pipeline import InboundRecord, dead_letter
from stream_jobs.summary import RunSummary
from stream_jobs.topics import (
    DEAD_LETTER_MAX_ORIGINAL,
    MAX_RECORD_BYTES,
    SCHEMA_HEADER,
    raw_record_key,
)

if TYPE_CHECKING:  # kafka-python comes with the `stream` extra, not the light install
    from stream_jobs.backends.kafka import KafkaProducerBackend

__all__ = [
    "EmbeddedRun",
    "Produced",
    "kafka_producer",
    "produce_records",
    "run_embedded",
    "run_embedded_fed",
]

log = logging.getLogger(__name__)


@dataclass
class EmbeddedRun:
    summary: RunSummary
    metrics: PipelineMetrics


def run_embedded(
    settings: Settings,
    records: Iterable[InboundRecord],
    progress: Callable[[RunSummary], None] | None = None,
) -> EmbeddedRun:
    store = open_store(settings)
    try:
        runner = EmbeddedRunner(
            build_context(settings, load_classifier(settings)),
            store,
            batch_size=settings.batch_size,
        )
        seeded = runner.warm_up(settings.dedup_capacity)
        log.info("embedded pipeline starting", extra={"dedup_seeded": seeded})
        summary = runner.run(records, progress=progress)
    finally:
        store.close()
    return EmbeddedRun(summary, runner.metrics)


def run_embedded_fed(
    settings: Settings,
    feed: Callable[[PostSink], None],
    progress: Callable[[RunSummary], None] | None = None,
) -> EmbeddedRun:
    """Run `feed(sink)` in a thread while the pipeline consumes what it delivers; returns when
    the feed has finished and everything it delivered is stored. A failing feed is re-raised."""
    sink = RecordQueueSink()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            feed(sink)
        except BaseException as exc:  # re-raised below, after the pipeline drained
            failure.append(exc)
        finally:
            sink.close()

    thread = threading.Thread(target=produce, name="canhbao-feed", daemon=True)
    thread.start()
    run = run_embedded(settings, sink.records(), progress)
    thread.join()
    if failure:
        raise failure[0]
    return run


def kafka_producer(settings: Settings) -> KafkaProducerBackend:
    from stream_jobs.backends.kafka import KafkaProducerBackend

    return KafkaProducerBackend(settings.kafka_bootstrap, client_id="canhbao-ingest")


@dataclass(frozen=True)
class Produced:
    sent: int
    dead_lettered: int


def produce_records(settings: Settings, records: Iterable[InboundRecord]) -> Produced:
    """File records onto the raw topic, bytes untouched (the worker validates, and dead-letters
    what is broken, as the embedded run would). A record too large for one Kafka message cannot
    reach the worker: it goes straight to the dead-letter topic, with its reason, and the
    import goes on."""
    producer = kafka_producer(settings)
    topics = topology(settings)
    key = load_pseudonym_key(settings)
    sent = dead = 0
    try:
        for record in records:
            if len(record.data) > MAX_RECORD_BYTES:
                reason = RejectedRecord(
                    RejectReason.RECORD_TOO_LARGE,
                    f"{len(record.data)} bytes, over the {MAX_RECORD_BYTES} a message may carry",
                    stage="import",
                )
                letter = dead_letter(record, reason, utc_now(), key)
                producer.produce(
                    topics.dead_letters,
                    letter.bounded(DEAD_LETTER_MAX_ORIGINAL).model_dump_json().encode(),
                    key=letter.reason_code.value.encode(),
                    headers={SCHEMA_HEADER: "dead_letter/1"},
                )
                log.warning("record dead-lettered", extra={"origin": record.origin})
                dead += 1
                continue
            producer.produce(
                topics.raw,
                record.data,
                key=raw_record_key(record.data),
                headers={SCHEMA_HEADER: "raw_post/1", ORIGIN_HEADER: record.origin},
            )
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return Produced(sent, dead)
