"""Kafka bus backend (kafka-python): an idempotent producer and a manually committed consumer.

Delivery is at least once: the consumer commits only after the caller has stored what it got,
and everything downstream is idempotent (document ids derive from post ids).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
)

from stream_jobs.backends.abstract import Message
from stream_jobs.exceptions import BusError
from stream_jobs.topics import TopicSpec

__all__ = [
    "KafkaConsumerBackend",
    "KafkaProducerBackend",
    "ensure_topics",
    "wait_until_reachable",
]

log = logging.getLogger(__name__)


def _require_reachable(bootstrap: str, timeout_s: float = 3.0) -> None:
    """Fail fast, and clearly, when no bootstrap server accepts a connection. kafka-python would
    spend its whole API-version probe timeout and leak the sockets of its half-built client."""
    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
            return
        except (OSError, ValueError) as exc:
            errors.append(f"{server.strip()}: {exc}")
    raise BusError(f"cannot reach Kafka at {bootstrap}: {'; '.join(errors)}")


def wait_until_reachable(
    bootstrap: str,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait for Kafka with logged, backed-off retries; raise `BusError` after `timeout_s`.
    A worker started before its broker waits and says so, instead of crash-looping."""
    deadline = clock() + timeout_s
    delay = 1.0
    while True:
        try:
            _require_reachable(bootstrap)
            return
        except BusError as exc:
            left = deadline - clock()
            if left <= 0:
                raise
            pause = min(delay, left)
            log.warning("%s; retrying in %.0f s", exc, pause)
            sleep(pause)
            delay = min(delay * 2, 30.0)


def _setup_failed(bootstrap: str, exc: KafkaError) -> BusError:
    if isinstance(exc, KafkaTimeoutError | KafkaConnectionError):
        return BusError(f"cannot reach Kafka at {bootstrap}: {exc}")
    return BusError(f"Kafka client setup failed ({bootstrap}): {exc}")


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the missing topics with their partitions and retention; return those created."""
    _require_reachable(bootstrap)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="canhbao-admin")
    except KafkaError as exc:
        raise _setup_failed(bootstrap, exc) from exc
    created = []
    try:
        existing = set(admin.list_topics())
        for spec in specs:
            if spec.name in existing:
                continue
            topic = NewTopic(
                spec.name,
                spec.partitions,
                1,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
            try:
                admin.create_topics([topic])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another worker: fine
    except KafkaError as exc:
        raise BusError(f"creating topics failed: {exc}") from exc
    finally:
        admin.close()
    return created


class KafkaProducerBackend:
    def __init__(self, bootstrap: str, client_id: str = "canhbao", linger_ms: int = 5) -> None:
        self._bootstrap = bootstrap
        self._pending: list[Any] = []
        self._known_topics: set[str] = set()
        _require_reachable(bootstrap)
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id=client_id,
                acks="all",
                enable_idempotence=True,  # broker drops retried duplicates
                compression_type="gzip",
                linger_ms=linger_ms,
                # Retries bounded by time, not count: five quick retries were spent before a
                # restarted broker had elected its leaders (NotLeaderForPartition, found by the
                # broker-restart fault test). Idempotence makes retrying safe.
                retries=2**31 - 1,
                retry_backoff_ms=250,
                # A send gives up after a minute: long enough to ride out a leader change,
                # short enough that a dead broker surfaces as an error, not a hang.
                request_timeout_ms=15_000,
                delivery_timeout_ms=60_000,
            )
        except KafkaError as exc:
            raise _setup_failed(bootstrap, exc) from exc

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if topic not in self._known_topics:
            self._require_topic(topic)
        encoded = [(k, v.encode()) for k, v in (headers or {}).items()]
        try:
            self._pending.append(self._producer.send(topic, value=value, key=key, headers=encoded))
        except KafkaError as exc:
            raise BusError(f"producing to {topic} failed: {exc}") from exc

    def _require_topic(self, topic: str) -> None:
        """Topics are made by `canhbao topics create`, never on first use. Sending to a missing
        one would block for a minute per message while the client logs each metadata retry
        (thousands of lines, signals unanswered): fail at once, saying what to do."""
        admin = KafkaAdminClient(bootstrap_servers=self._bootstrap, client_id="canhbao-admin")
        try:
            self._known_topics = set(admin.list_topics())
        except KafkaError as exc:
            raise BusError(f"listing topics on {self._bootstrap} failed: {exc}") from exc
        finally:
            admin.close()
        if topic not in self._known_topics:
            raise BusError(
                f"topic {topic} does not exist on {self._bootstrap}: create it with"
                " `canhbao topics create`"
            )

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._producer.flush()
        failures = [f.exception for f in pending if f.failed()]
        if failures:
            raise BusError(f"{len(failures)} message(s) not acknowledged: {failures[0]}")

    def close(self) -> None:
        self.flush()
        self._producer.close()


class KafkaConsumerBackend:
    def __init__(
        self,
        bootstrap: str,
        topics: Iterable[str],
        group_id: str,
        auto_offset_reset: str = "earliest",
    ) -> None:
        _require_reachable(bootstrap)
        try:
            self._consumer = KafkaConsumer(
                *topics,
                bootstrap_servers=bootstrap,
                group_id=group_id,
                enable_auto_commit=False,  # commit only after the batch is stored
                auto_offset_reset=auto_offset_reset,
            )
        except KafkaError as exc:
            raise _setup_failed(bootstrap, exc) from exc

    @property
    def exhausted(self) -> bool:
        return False  # a topic never ends

    def poll_batch(self, max_records: int, timeout_s: float) -> list[Message]:
        try:
            polled = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as exc:
            raise BusError(f"polling Kafka failed: {exc}") from exc
        batch = [
            Message(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                headers={k: v.decode("utf-8", "replace") for k, v in record.headers or []},
            )
            for records in polled.values()
            for record in records
        ]
        batch.sort(key=lambda m: (m.topic, m.partition, m.offset))
        return batch

    def commit(self) -> None:
        try:
            self._consumer.commit()
        except KafkaError as exc:
            raise BusError(f"committing offsets failed: {exc}") from exc

    def close(self) -> None:
        self._consumer.close()
