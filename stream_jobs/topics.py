"""The Kafka topic topology and message keys: configuration and pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from classifiers.text import fold, normalize_text

__all__ = [
    "DEAD_LETTER_MAX_ORIGINAL",
    "MAX_RECORD_BYTES",
    "SCHEMA_HEADER",
    "TopicSpec",
    "Topology",
    "raw_post_key",
    "raw_record_key",
]

SCHEMA_HEADER = "canhbao-schema"  # e.g. "raw_post/1": consumers check it before parsing
# Kafka's default limits a message (and a producer request) to 1 MiB. A raw record gets the
# rest after headers and key; a dead letter's original is base64 (4/3) inside JSON, so its
# topic copy keeps at most 512 KiB of it (the store keeps the whole record).
MAX_RECORD_BYTES = 1_000_000
DEAD_LETTER_MAX_ORIGINAL = 512 * 1024
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


def raw_record_key(data: bytes) -> bytes | None:
    """`raw_post_key` of a raw record's text; None for a record too broken to have one (it is
    dead-lettered wherever it lands)."""
    try:
        text = json.loads(data).get("text")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return raw_post_key(text) if isinstance(text, str) else None
