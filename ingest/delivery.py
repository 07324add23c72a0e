"""Where collected posts go: the bus. `deliver` returns only once the bus has accepted every
post (Kafka: acknowledged by the brokers; embedded: queued for the pipeline), so the collector
can advance its checkpoint right after it; on failure it raises and nothing is checkpointed."""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from typing import Protocol

from schemas import RawPost
from stream_jobs.backends.abstract import ORIGIN_HEADER, Producer
from stream_jobs.pipeline import InboundRecord
from stream_jobs.topics import SCHEMA_HEADER, raw_post_key

__all__ = ["BusSink", "PostSink", "RecordQueueSink", "origin_of"]


def origin_of(post: RawPost) -> str:
    return f"{post.source_id}:{post.external_id}"[:300]


class PostSink(Protocol):
    def deliver(self, posts: Sequence[RawPost]) -> None:
        """Hand `posts` to the bus and block until it accepted all of them; raise if not."""


class BusSink:
    """Posts onto the raw-posts topic of a bus (Kafka in production), keyed like the worker
    expects: by folded text, so exact duplicates share a partition."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def deliver(self, posts: Sequence[RawPost]) -> None:
        for post in posts:
            self._producer.produce(
                self._topic,
                post.model_dump_json().encode("utf-8"),
                key=raw_post_key(post.text),
                headers={SCHEMA_HEADER: "raw_post/1", ORIGIN_HEADER: origin_of(post)},
            )
        self._producer.flush()  # raises BusError if any message was not acknowledged


_END = object()


class RecordQueueSink:
    """The embedded mode's bus entrance: a bounded queue the embedded runner reads from
    (`records()`), so a slow pipeline slows the collectors down instead of filling memory."""

    def __init__(self, max_pending: int = 4096) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)

    def deliver(self, posts: Sequence[RawPost]) -> None:
        for post in posts:
            self._queue.put(InboundRecord(origin_of(post), post.model_dump_json().encode()))

    def close(self) -> None:
        """No more posts: `records()` ends after the ones already queued."""
        self._queue.put(_END)

    def records(self) -> Iterator[InboundRecord]:
        while (item := self._queue.get()) is not _END:
            assert isinstance(item, InboundRecord)
            yield item
