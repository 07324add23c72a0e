"""What one collection of one source produced, and what every source collector is given."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.http import Fetcher
from ingest.metrics import CollectorMetrics
from schemas import RawPost

__all__ = ["CollectContext", "Collected", "Rejected"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item that can never become a post (no id, no text, wrong types): kept with its
    reason in the collector's dead letters, and marked seen so it is not fetched forever."""

    external_id: str | None
    reason: str
    detail: str
    payload: Any


@dataclass
class Collected:
    source: str
    posts: list[RawPost] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    fetched: int = 0
    duplicates: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (reason, message)
    # URLs that failed for good this time (404, too large, …): (url, reason, message), tried
    # again later by the checkpoint's backoff; they do not make the collection incomplete.
    deferred: list[tuple[str, str, str]] = field(default_factory=list)
    # Items listed but deliberately not fetched, by reason ("outside_window", "deferred").
    skipped: dict[str, int] = field(default_factory=dict)
    quota_units: int = 0
    # Validators and cursor for the checkpoint: used only if the collection is complete.
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None

    @property
    def complete(self) -> bool:
        return not self.failures

    def fail(self, reason: str, message: str) -> None:
        log.warning(
            "collection step failed",
            extra={"source": self.source, "reason": reason, "error": message},
        )
        self.failures.append((reason, message))

    def defer(self, url: str, reason: str, message: str) -> None:
        log.warning(
            "item deferred",
            extra={"source": self.source, "url": url, "reason": reason, "error": message},
        )
        self.deferred.append((url, reason, message))

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    def reject(self, item: Rejected) -> None:
        log.warning(
            "item rejected",
            extra={"source": self.source, "reason": item.reason, "detail": item.detail},
        )
        self.rejected.append(item)


@dataclass
class CollectContext:
    fetcher: Fetcher
    metrics: CollectorMetrics
    extract_pool: Executor | None = None  # None: extract in a thread (keeps the loop free)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # API access tokens (TikTok's live ~2 h): credential → (monotonic expiry, token).
    token_cache: dict[str, tuple[float, str]] = field(default_factory=dict)

    async def run_cpu(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.extract_pool, fn, *args)
