"""The Kafka topic topology and message keys: configuration and pure functions, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from classifiers.text import fold, normalize_text

__all__ = ["SCHEMA_HEADER", "TopicSpec", "Topology", "raw_post_key"]

SCHEMA_HEADER = "canhbao-schema"  # e.g. "raw_post/1": consumers check it before parsing
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int


@dataclass(frozen=True)
class Topology:
    prefix: str = "canhbao"
    partitions: int = 6  # the most worker replicas that can share one topic
    retention_days: int = 7
    dead_letter_retention_days: int = 30  # long enough for someone to look and replay
    destinations: tuple[str, ...] = ("cong_an", "so_tttt")

    @property
    def raw(self) -> str:
        return f"{self.prefix}.posts.raw"

    @property
    def classified(self) -> str:
        return f"{self.prefix}.posts.classified"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts.review"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.deadletters"

    def destination(self, name: str) -> str:
        if name not in self.destinations:
            raise ValueError(f"unknown destination {name!r}; configured: {self.destinations}")
        return f"{self.prefix}.dest.{name}"

    def specs(self) -> list[TopicSpec]:
        keep = self.retention_days * _DAY_MS
        topics = [
            TopicSpec(self.raw, self.partitions, keep),
            TopicSpec(self.classified, self.partitions, keep),
            TopicSpec(self.alerts, self.partitions, keep),
            TopicSpec(self.dead_letters, 1, self.dead_letter_retention_days * _DAY_MS),
        ]
        # Agency queues are low volume and consumed in order: one partition each.
        topics += [TopicSpec(self.destination(d), 1, keep) for d in self.destinations]
        return topics


def raw_post_key(text: str) -> bytes:
    """Partition key of a raw post: its normalised, folded text. Exact duplicates — the same
    text posted under other ids — land on one partition, so one worker sees them all in order."""
    return hashlib.sha1(fold(normalize_text(text)).encode(), usedforsecurity=False).digest()[:12]
