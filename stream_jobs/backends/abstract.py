"""The narrow bus interface the runners use: produce, poll a batch, commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Consumer", "Message", "Producer"]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Producer(Protocol):
    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Hand a message to the bus; blocks while the bus is full (backpressure)."""

    def close_topic(self, topic: str) -> None:
        """Declare that nothing more will be produced to `topic` (bounded inputs)."""


class Consumer(Protocol):
    def poll_batch(self, max_records: int, timeout_s: float) -> list[Message]:
        """Up to `max_records` messages, waiting at most `timeout_s` for the first."""

    def commit(self) -> None:
        """Mark everything returned so far as processed."""

    @property
    def exhausted(self) -> bool:
        """True once a closed topic has been fully consumed."""
