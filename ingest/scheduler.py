"""Run the collectors: each source once (`collect_round`) or forever on its own interval.

One source's failure — a broken feed, a 5xx storm, an expired token, even a bug — is logged
with the source and reason, counted, and never stops the others. A round's posts are handed to
the sink, and the source's checkpoint moves only after the sink accepted them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.checkpoints import Checkpoint, CheckpointStore
from ingest.collected import CollectContext, Collected, Rejected
from ingest.delivery import PostSink
from ingest.news.collect import collect_feed, collect_sitemap
from ingest.social.facebook import collect_facebook_page
from ingest.social.tiktok import collect_tiktok_query
from ingest.social.youtube import collect_youtube_channel
from ingest.sources import (
    FacebookPageSource,
    RssSource,
    SitemapSource,
    Source,
    TikTokQuerySource,
    YouTubeChannelSource,
)
from schemas.exceptions import CanhbaoError

__all__ = ["CollectorDeadLetters", "SourceReport", "collect_round", "collect_source", "run_forever"]

log = logging.getLogger(__name__)

_COLLECTORS: dict[type, Callable[[Any, CollectContext, Checkpoint], Awaitable[Collected]]] = {
    RssSource: collect_feed,
    SitemapSource: collect_sitemap,
    FacebookPageSource: collect_facebook_page,
    YouTubeChannelSource: collect_youtube_channel,
    TikTokQuerySource: collect_tiktok_query,
}


@dataclass
class SourceReport:
    source: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    deferred: int = 0  # failed for good this time; tried again later (per-URL backoff)
    skipped: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fetched": self.fetched,
            "new": self.new,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "deferred": self.deferred,
            "skipped": dict(self.skipped),
            "failures": [{"reason": r, "error": m} for r, m in self.failures],
            "seconds": round(self.seconds, 3),
        }


class CollectorDeadLetters:
    """Items that can never become posts, kept as JSON Lines with their source and reason."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, source: str, items: Sequence[Rejected]) -> None:
        if not items:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            json.dumps(
                {
                    "source": source,
                    "external_id": r.external_id,
                    "reason": r.reason,
                    "detail": r.detail,
                    "payload": r.payload,
                    "at": time.time(),
                },
                ensure_ascii=False,
                default=str,
            )
            for r in items
        ]
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


async def collect_source(
    source: Source,
    ctx: CollectContext,
    checkpoints: CheckpointStore,
    sink: PostSink,
    dead_letters: CollectorDeadLetters,
) -> SourceReport:
    started = time.perf_counter()
    report = SourceReport(source.name)
    checkpoint = checkpoints.load(source.name)
    try:
        collected = await _COLLECTORS[type(source)](source, ctx, checkpoint)
    except Exception as exc:  # a bug must not stop the other sources: log it loudly, count it
        log.exception("collector crashed", extra={"source": source.name})
        collected = Collected(source.name)
        collected.failures.append(("internal_error", f"{type(exc).__name__}: {exc}"))
    report.fetched, report.duplicates = collected.fetched, collected.duplicates
    report.rejected = len(collected.rejected)
    report.deferred, report.skipped = len(collected.deferred), dict(collected.skipped)
    report.failures = list(collected.failures)
    deferred = [(url, reason) for url, reason, _ in collected.deferred]
    delivered: list[str] = []
    if collected.posts:
        try:
            await asyncio.to_thread(sink.deliver, collected.posts)
            delivered = [p.external_id for p in collected.posts]
        except CanhbaoError as exc:
            log.error("delivery failed", extra={"source": source.name, "error": str(exc)})
            report.failures.append(("delivery", str(exc)))
    if not delivered and collected.posts:
        # Nothing reached the bus: keep the checkpoint, except for the quota that was spent.
        checkpoints.save(
            source.name,
            checkpoint.advanced(
                [],
                complete=False,
                quota_units=collected.quota_units,
                deferred=deferred,
                now=ctx.clock(),
            ),
        )
    else:
        dead_letters.write(source.name, collected.rejected)
        rejected_ids = [r.external_id for r in collected.rejected if r.external_id]
        checkpoints.save(
            source.name,
            checkpoint.advanced(
                delivered + rejected_ids,
                complete=report.ok,
                etag=collected.etag,
                last_modified=collected.last_modified,
                cursor=collected.cursor,
                quota_units=collected.quota_units,
                deferred=deferred,
                now=ctx.clock(),
            ),
        )
        report.new = len(delivered)
    report.seconds = time.perf_counter() - started
    _observe(ctx, source.name, collected, report)
    return report


def _observe(ctx: CollectContext, name: str, collected: Collected, report: SourceReport) -> None:
    m = ctx.metrics
    m.fetched.labels(name).inc(report.fetched)
    m.new.labels(name).inc(report.new)
    m.duplicate.labels(name).inc(report.duplicates)
    m.quota_used.labels(name).inc(collected.quota_units)
    m.collection_seconds.labels(name).observe(report.seconds)
    for rejected in collected.rejected:
        m.errors.labels(name, rejected.reason).inc()
    for reason, _ in report.failures:
        m.errors.labels(name, reason).inc()
    for _, reason, _ in collected.deferred:
        m.deferred.labels(name, reason).inc()
    for reason, count in collected.skipped.items():
        m.skipped.labels(name, reason).inc(count)
    if report.ok:
        m.last_success.labels(name).set_to_current_time()
    now = ctx.clock()
    for post in collected.posts[: report.new]:
        if post.published_at is not None:
            m.lag.labels(name).observe(max(0.0, (now - post.published_at).total_seconds()))
    log.info("source collected", extra=report.as_dict() | {"failures": len(report.failures)})


async def collect_round(
    sources: Sequence[Source],
    ctx: CollectContext,
    checkpoints: CheckpointStore,
    sink: PostSink,
    dead_letters: CollectorDeadLetters,
    concurrency: int = 32,
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Every source once, `concurrency` at a time; a slow host delays only its own sources."""
    gate = asyncio.Semaphore(concurrency)

    async def one(source: Source) -> SourceReport:
        async with gate:
            report = await collect_source(source, ctx, checkpoints, sink, dead_letters)
        if on_report is not None:
            on_report(report)
        return report

    return list(await asyncio.gather(*(one(s) for s in sources)))


async def run_forever(
    sources: Sequence[Source],
    ctx: CollectContext,
    checkpoints: CheckpointStore,
    sink: PostSink,
    dead_letters: CollectorDeadLetters,
    stop: asyncio.Event,
    concurrency: int = 32,
    rng: random.Random | None = None,
) -> None:
    """Each source on its own interval ± jitter (so a hundred feeds do not fire in lockstep),
    the first round spread over one interval, until `stop` is set."""
    rng = rng or random.Random()
    gate = asyncio.Semaphore(concurrency)

    async def loop(source: Source) -> None:
        delay = rng.uniform(0, min(source.interval_s, 30.0))
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            async with gate:
                await collect_source(source, ctx, checkpoints, sink, dead_letters)
            spread = source.interval_s * source.jitter
            delay = max(1.0, source.interval_s + rng.uniform(-spread, spread))

    await asyncio.gather(*(loop(s) for s in sources if s.enabled))
