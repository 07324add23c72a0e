"""The embedded bus: bounded in-process queues, one partition per topic.

Offsets and commits behave like Kafka's, so the runner's commit-after-store discipline is the
same in both modes; the bound gives the reader backpressure instead of unbounded memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping

from stream_jobs.backends.abstract import Message

__all__ = ["InMemoryBus", "InMemoryConsumer"]

_CLOSED = object()


class InMemoryBus:
    def __init__(self, max_pending: int = 10_000) -> None:
        self._max_pending = max_pending
        self._topics: dict[str, queue.Queue[object]] = {}
        self._next_offset: dict[str, int] = {}
        self._lock = threading.Lock()

    def _queue(self, topic: str) -> queue.Queue[object]:
        with self._lock:
            if topic not in self._topics:
                self._topics[topic] = queue.Queue(maxsize=self._max_pending)
                self._next_offset[topic] = 0
            return self._topics[topic]

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        q = self._queue(topic)
        with self._lock:
            offset = self._next_offset[topic]
            self._next_offset[topic] = offset + 1
        q.put(Message(topic, 0, offset, key, value, dict(headers or {})))

    def flush(self) -> None:
        """Nothing to wait for: `produce` returns once the message is queued."""

    def close_topic(self, topic: str) -> None:
        """Declare that nothing more will be produced to `topic` (bounded inputs)."""
        self._queue(topic).put(_CLOSED)

    def consumer(self, topic: str) -> InMemoryConsumer:
        return InMemoryConsumer(self._queue(topic))


class InMemoryConsumer:
    def __init__(self, source: queue.Queue[object]) -> None:
        self._source = source
        self._exhausted = False
        self.committed_offset = -1
        self._last_offset = -1

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def poll_batch(self, max_records: int, timeout_s: float) -> list[Message]:
        if self._exhausted:
            return []
        batch: list[Message] = []
        try:
            item = self._source.get(timeout=timeout_s)
        except queue.Empty:
            return batch
        while True:
            if item is _CLOSED:
                self._exhausted = True
                break
            assert isinstance(item, Message)
            batch.append(item)
            self._last_offset = item.offset
            if len(batch) >= max_records:
                break
            try:
                item = self._source.get_nowait()
            except queue.Empty:
                break
        return batch

    def commit(self) -> None:
        self.committed_offset = self._last_offset
