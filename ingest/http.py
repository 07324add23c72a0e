"""The collectors' HTTP edge: one `Fetcher` over an injected `httpx.AsyncClient`.

Everything a polite, robust collector needs in one place, so no source type re-implements it:
per-host concurrency and request rate (raised to robots.txt's Crawl-delay), robots.txt checked
before every fetch and every redirect hop, retries with exponential backoff and full jitter for
timeouts, broken connections, truncated bodies and 5xx, `Retry-After` honoured on 429/503 (a
wait longer than `max_retry_after_s` ends the round with `QuotaExceeded` instead of stalling
it), conditional GET, and a hard cap on the decoded size of a body (gzip bombs included).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from ingest.charset import decode_body
from ingest.exceptions import (
    EgressRefused,
    FetchError,
    QuotaExceeded,
    ResponseTooLarge,
    RobotsDisallowed,
)
from ingest.metrics import CollectorMetrics
from ingest.robots import MAX_ROBOTS_BYTES, RobotsRules, robots_url
from ingest.sources import CollectorDefaults

__all__ = ["FetchResult", "Fetcher", "retry_after_seconds"]

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_BACKOFF_CAP_S = 30.0
_ROBOTS_TTL_S = 3600.0
_ROBOTS_RETRY_S = 60.0


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str  # after redirects
    status: int  # 200-class, or 304
    headers: Mapping[str, str]
    body: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return decode_body(self.body, self.headers.get("content-type"))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; `None` if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class _Body:
    json: Any = None
    form: Mapping[str, str] | None = None


@dataclass
class _HostGate:
    concurrency: asyncio.Semaphore
    interval_s: float
    next_at: float = 0.0

    async def slot(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Space request starts at least `interval_s` apart (the caller holds `concurrency`)."""
        now = time.monotonic()
        start = max(now, self.next_at)
        self.next_at = start + self.interval_s
        if start - now > 0.001:  # sub-millisecond spacing is noise, not politeness
            await sleep(start - now)


@dataclass
class Fetcher:
    client: httpx.AsyncClient
    defaults: CollectorDefaults = field(default_factory=CollectorDefaults)
    metrics: CollectorMetrics | None = None
    backoff_base_s: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    _gates: dict[str, _HostGate] = field(default_factory=dict, init=False)
    _robots: dict[str, tuple[float, RobotsRules]] = field(default_factory=dict, init=False)
    _robots_locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False)

    # -- public --------------------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = True,
        rate_per_s: float | None = None,
    ) -> FetchResult:
        """GET with redirects followed by hand, so that each hop is checked against robots."""
        sent = dict(headers or {})
        if etag:
            sent["If-None-Match"] = etag
        if last_modified:
            sent["If-Modified-Since"] = last_modified
        current, visited = url, [url]
        for _ in range(_MAX_REDIRECTS + 1):
            if robots:
                await self._check_robots(current)
            result = await self._exchange("GET", current, params, sent, None, rate_per_s)
            location = result.headers.get("location")
            if result.status not in _REDIRECTS or not location:
                return result
            current, params = urljoin(current, location), None
            if current in visited:
                raise FetchError(
                    f"{url}: redirect loop ({' → '.join([*visited, current])})",
                    url=url, reason="redirect_loop", status=result.status,
                )  # fmt: skip
            visited.append(current)
        raise FetchError(
            f"{url}: more than {_MAX_REDIRECTS} redirects (last {current})",
            url=url, reason="redirects",
        )  # fmt: skip

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        rate_per_s: float | None = None,
    ) -> FetchResult:
        """POST for APIs that query by body (TikTok Research). Not robots-checked: official
        APIs are governed by their terms and quotas, not robots.txt."""
        body = _Body(json, form)
        return await self._exchange("POST", url, params, dict(headers or {}), body, rate_per_s)

    # -- robots.txt ----------------------------------------------------------------------

    async def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:  # one robots.txt fetch per host, however many requests wait on it
            cached = self._robots.get(key)
            if cached is None or cached[0] < time.monotonic():
                rules = await self._fetch_robots(parts.scheme, parts.netloc.lower())
                # An unreadable robots.txt disallows everything, but only briefly: ask again soon.
                ttl = _ROBOTS_TTL_S if rules.readable else _ROBOTS_RETRY_S
                self._robots[key] = (time.monotonic() + ttl, rules)
                delay = rules.crawl_delay(self.defaults.user_agent)
                if delay:
                    gate = self._gate(parts.netloc.lower(), None)
                    gate.interval_s = max(gate.interval_s, delay)
            rules = self._robots[key][1]
        if not rules.readable:  # the site is unreachable or failing: say so, not "disallowed"
            raise FetchError(
                f"{url}: not fetched, robots.txt is unreadable ({rules.note})",
                url=url, reason="robots_unreadable", status=rules.status,
            )  # fmt: skip
        if not rules.allows(url, self.defaults.user_agent):
            self._count(parts.netloc, "robots_disallowed")
            raise RobotsDisallowed(
                f"robots.txt ({rules.note}) disallows {url}", url=url, reason="robots"
            )

    async def _fetch_robots(self, scheme: str, netloc: str) -> RobotsRules:
        url = robots_url(scheme, netloc)
        try:
            result = await self._exchange("GET", url, None, {}, None, None, quiet_4xx=True)
        except EgressRefused:
            raise  # not an unreadable robots.txt: a destination we do not fetch at all
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return RobotsRules.from_response(exc.status, b"")
            log.warning("robots.txt unreadable", extra={"url": url, "error": str(exc)})
            return RobotsRules.from_response(exc.status, b"", error=str(exc))
        if result.status in _REDIRECTS:  # one hop is enough for robots.txt in practice
            location = urljoin(url, result.headers.get("location", ""))
            try:
                result = await self._exchange("GET", location, None, {}, None, None)
            except FetchError as exc:
                return RobotsRules.from_response(exc.status, b"")
        return RobotsRules.from_response(result.status, result.body[:MAX_ROBOTS_BYTES])

    # -- one exchange, with retries ------------------------------------------------------

    def _gate(self, host: str, rate_per_s: float | None) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            rate = rate_per_s or self.defaults.per_host_rate_per_s
            gate = _HostGate(asyncio.Semaphore(self.defaults.per_host_concurrency), 1.0 / rate)
            self._gates[host] = gate
        return gate

    def _count(self, host: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.requests.labels(host.lower(), outcome).inc()

    def _backoff(self, attempt: int) -> float:
        return self.rng.uniform(0, min(_BACKOFF_CAP_S, self.backoff_base_s * 2**attempt))

    async def _exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
        payload: _Body | None,
        rate_per_s: float | None,
        *,
        quiet_4xx: bool = False,
    ) -> FetchResult:
        host = urlsplit(url).netloc.lower()
        gate = self._gate(host, rate_per_s)
        headers.setdefault("User-Agent", self.defaults.user_agent)
        attempts = self.defaults.max_attempts
        last_error = ""
        for attempt in range(attempts):
            async with gate.concurrency:
                await gate.slot(self.sleep)
                try:
                    status, response_headers, body = await self._send(
                        method, url, params, headers, payload
                    )
                except ResponseTooLarge:
                    self._count(host, "too_large")
                    raise
                except EgressRefused as exc:
                    self._count(host, "egress_refused")
                    log.warning("fetch refused by egress policy", extra={"url": url})
                    raise EgressRefused(f"{url}: {exc}", url=url) from None
                except httpx.TimeoutException as exc:
                    last_error, outcome, wait = f"timed out ({type(exc).__name__})", "timeout", None
                except (httpx.TransportError, httpx.DecodingError) as exc:
                    last_error, outcome, wait = f"connection failed: {exc}", "transport", None
                else:
                    wait = None
                    if status < 400 or status == 304:
                        self._count(host, str(status))
                        return FetchResult(url, status, response_headers, body)
                    outcome = str(status)
                    last_error = f"HTTP {status}"
                    if status in (429, 503):
                        wait = retry_after_seconds(response_headers.get("retry-after"))
                        if wait is not None and wait > self.defaults.max_retry_after_s:
                            self._count(host, outcome)
                            raise QuotaExceeded(
                                f"{url}: HTTP {status}, Retry-After {wait:.0f} s is longer than"
                                f" we wait ({self.defaults.max_retry_after_s:.0f} s)",
                                url=url,
                                reason="rate_limited",
                                status=status,
                            )
                    elif status < 500:
                        self._count(host, outcome)
                        if not quiet_4xx:
                            log.info("fetch refused", extra={"url": url, "status": status})
                        raise FetchError(
                            f"{url}: HTTP {status}",
                            url=url,
                            reason=f"http_{status}",
                            status=status,
                            body=body,
                        )
            self._count(host, outcome)
            if attempt + 1 < attempts:
                pause = wait if wait is not None else self._backoff(attempt)
                log.info(
                    "fetch retry",
                    extra={
                        "url": url,
                        "error": last_error,
                        "attempt": attempt + 1,
                        "retry_in_s": round(pause, 2),
                    },
                )
                await self.sleep(pause)
        status_code = int(outcome) if outcome.isdigit() else None
        error_type = QuotaExceeded if status_code == 429 else FetchError
        raise error_type(
            f"{url}: {last_error} after {attempts} attempts",
            url=url,
            reason="rate_limited" if status_code == 429 else outcome,
            status=status_code,
        )

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        payload: _Body | None,
    ) -> tuple[int, dict[str, str], bytes]:
        limit = self.defaults.max_response_bytes
        request = self.client.build_request(
            method,
            url,
            params=params,
            headers=headers,
            json=payload.json if payload else None,
            data=payload.form if payload else None,
            timeout=self.defaults.timeout_s,
        )
        response = await self.client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise ResponseTooLarge(
                    f"{url}: Content-Length {declared} is over the limit of {limit} bytes",
                    url=url,
                    reason="too_large",
                    status=response.status_code,
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():  # decoded: caps gzip bombs too
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(
                        f"{url}: body over the limit of {limit} bytes",
                        url=url,
                        reason="too_large",
                        status=response.status_code,
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        lowered = {k.lower(): v for k, v in response.headers.items()}
        return response.status_code, lowered, b"".join(chunks)
