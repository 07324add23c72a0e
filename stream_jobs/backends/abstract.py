"""The narrow bus interface the runners use: produce, poll a batch, commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["ORIGIN_HEADER", "Consumer", "Message", "Producer"]

ORIGIN_HEADER = "origin"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """Where the record came from, for dead letters: the producer's own note (a file and
        line) if it left one, else the topic position."""
        return self.headers.get(ORIGIN_HEADER) or f"{self.topic}/{self.partition}@{self.offset}"


class Producer(Protocol):
    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Hand a message to the bus; blocks while the bus is full (backpressure)."""

    def flush(self) -> None:
        """Block until every message handed over is acknowledged; raise if any failed."""


class Consumer(Protocol):
    def poll_batch(self, max_records: int, timeout_s: float) -> list[Message]:
        """Up to `max_records` messages, waiting at most `timeout_s` for the first."""

    def commit(self) -> None:
        """Mark everything returned so far as processed."""

    @property
    def exhausted(self) -> bool:
        """True once a closed topic has been fully consumed."""
