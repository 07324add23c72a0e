"""Collector test helpers: a Fetcher over httpx.MockTransport, with sleeps recorded, not slept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from ingest.collected import CollectContext
from ingest.http import Fetcher
from ingest.metrics import CollectorMetrics
from ingest.sources import CollectorDefaults

T = TypeVar("T")
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fetcher(
    handler: Callable[[httpx.Request], httpx.Response], **defaults: Any
) -> tuple[Fetcher, Sleeps, httpx.AsyncClient]:
    sleeps = Sleeps()
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    options = {"per_host_rate_per_s": 1e6} | defaults
    f = Fetcher(client, CollectorDefaults(**options), CollectorMetrics(), sleep=sleeps)
    return f, sleeps, client


def context(handler: Callable[[httpx.Request], httpx.Response], **defaults: Any) -> CollectContext:
    f, _, _ = fetcher(handler, **defaults)
    return CollectContext(f, f.metrics or CollectorMetrics(), clock=lambda: NOW)


def json_response(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
