"""Collector test helpers: a Fetcher over httpx.MockTransport, with sleeps recorded, not slept."""

from __future__ import annotations

import asyncio
import unicodedata
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


def cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: precomposed where the code page has the letter (ô, ơ, ă),
    the tone as a combining mark after it."""
    out = []
    for char in text:
        try:
            out.append(char.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], list(decomposed[1:])
        for mark in list(marks):  # fold in the marks the code page has letters for
            composed = unicodedata.normalize("NFC", base + mark)
            if len(composed) == 1 and composed.encode("cp1258", "ignore"):
                base = composed
                marks.remove(mark)
        out.append((base + "".join(marks)).encode("cp1258"))
    return b"".join(out)
