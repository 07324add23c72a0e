"""The Fetcher's politeness and robustness, over httpx.MockTransport (no sockets, no sleeping)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.exceptions import FetchError, QuotaExceeded, ResponseTooLarge, RobotsDisallowed
from ingest.http import retry_after_seconds
from tests.unit.ingest.helpers import fetcher, run

ROBOTS_OK = httpx.Response(404)


def routes(table: dict[str, list[httpx.Response]]) -> tuple[list[httpx.Request], object]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        replies = table.get(request.url.path)
        if not replies:
            return httpx.Response(404)
        return replies.pop(0) if len(replies) > 1 else replies[0]

    return seen, handler


def test_5xx_and_broken_connections_are_retried_with_backoff() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return ROBOTS_OK
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        if calls["n"] == 2:
            return httpx.Response(503)
        return httpx.Response(200, text="ok")

    f, sleeps, _ = fetcher(handler)
    result = run(f.get("https://x.vn/feed"))
    assert result.status == 200
    assert result.body == b"ok"
    assert len(sleeps) == 2
    assert all(0 <= s <= 1.0 for s in sleeps)


def test_429_waits_as_told_then_succeeds() -> None:
    _seen, handler = routes(
        {
            "/robots.txt": [ROBOTS_OK],
            "/api": [
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(200, text="ok"),
            ],
        }
    )
    f, sleeps, _ = fetcher(handler)  # type: ignore[arg-type]
    assert run(f.get("https://x.vn/api")).body == b"ok"
    assert 7.0 in sleeps


def test_a_long_retry_after_ends_the_round_instead_of_stalling() -> None:
    _, handler = routes(
        {"/robots.txt": [ROBOTS_OK], "/api": [httpx.Response(429, headers={"Retry-After": "3600"})]}
    )
    f, sleeps, _ = fetcher(handler)  # type: ignore[arg-type]
    with pytest.raises(QuotaExceeded, match="Retry-After 3600") as caught:
        run(f.get("https://x.vn/api"))
    assert caught.value.reason == "rate_limited"
    assert not sleeps


def test_persistent_429_becomes_quota_exceeded_after_the_attempts() -> None:
    _, handler = routes({"/robots.txt": [ROBOTS_OK], "/api": [httpx.Response(429)]})
    f, sleeps, _ = fetcher(handler, max_attempts=3)  # type: ignore[arg-type]
    with pytest.raises(QuotaExceeded, match="after 3 attempts"):
        run(f.get("https://x.vn/api"))
    assert len(sleeps) == 2


def test_4xx_is_final_and_keeps_the_error_body() -> None:
    seen, handler = routes(
        {"/robots.txt": [ROBOTS_OK], "/gone": [httpx.Response(403, json={"error": {"code": 4}})]}
    )
    f, sleeps, _ = fetcher(handler)  # type: ignore[arg-type]
    with pytest.raises(FetchError) as caught:
        run(f.get("https://x.vn/gone"))
    assert caught.value.status == 403
    assert b'"code"' in caught.value.body
    assert [r.url.path for r in seen].count("/gone") == 1
    assert not sleeps


def test_timeouts_are_retried_then_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return ROBOTS_OK
        raise httpx.ReadTimeout("slow", request=request)

    f, sleeps, _ = fetcher(handler, max_attempts=2)
    with pytest.raises(FetchError, match="timed out") as caught:
        run(f.get("https://x.vn/slow"))
    assert caught.value.reason == "timeout"
    assert len(sleeps) == 1


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def test_size_limit_by_header_and_by_streamed_body() -> None:
    big = b"x" * 20_000
    _, handler = routes(
        {
            "/robots.txt": [ROBOTS_OK],
            "/declared": [httpx.Response(200, content=big)],
            "/streamed": [httpx.Response(200, stream=_Chunks(big, big))],
        }
    )
    f, _, _ = fetcher(handler, max_response_bytes=10_000)  # type: ignore[arg-type]
    with pytest.raises(ResponseTooLarge, match="Content-Length"):
        run(f.get("https://x.vn/declared"))
    with pytest.raises(ResponseTooLarge, match="body over"):
        run(f.get("https://x.vn/streamed"))


def test_conditional_get_and_304() -> None:
    seen, handler = routes({"/robots.txt": [ROBOTS_OK], "/feed": [httpx.Response(304)]})
    f, _, _ = fetcher(handler)  # type: ignore[arg-type]
    result = run(f.get("https://x.vn/feed", etag='"v1"', last_modified="Sat, 28 Nov 2026"))
    assert result.not_modified
    feed_request = next(r for r in seen if r.url.path == "/feed")
    assert feed_request.headers["if-none-match"] == '"v1"'
    assert feed_request.headers["if-modified-since"] == "Sat, 28 Nov 2026"
    assert feed_request.headers["user-agent"].startswith("canhbao-collector")


def test_redirects_are_followed_and_each_hop_is_checked_against_robots() -> None:
    seen, handler = routes(
        {
            "/robots.txt": [httpx.Response(200, text="User-agent: *\nDisallow: /private/\n")],
            "/old": [httpx.Response(301, headers={"Location": "/new"})],
            "/new": [httpx.Response(200, text="moved")],
            "/sneaky": [httpx.Response(302, headers={"Location": "/private/page"})],
        }
    )
    f, _, _ = fetcher(handler)  # type: ignore[arg-type]
    result = run(f.get("https://x.vn/old"))
    assert result.url == "https://x.vn/new"
    assert result.body == b"moved"
    with pytest.raises(RobotsDisallowed):
        run(f.get("https://x.vn/sneaky"))
    assert "/private/page" not in [r.url.path for r in seen]
    assert [r.url.path for r in seen].count("/robots.txt") == 1  # cached per host


def test_a_redirect_loop_or_chain_fails_naming_its_urls() -> None:
    hops = {
        f"/hop{i}": [httpx.Response(302, headers={"Location": f"/hop{i + 1}"})] for i in range(12)
    }
    _, handler = routes(
        {
            "/robots.txt": [ROBOTS_OK],
            "/a": [httpx.Response(302, headers={"Location": "/b"})],
            "/b": [httpx.Response(301, headers={"Location": "/a"})],
            **hops,
        }
    )
    f, _, _ = fetcher(handler)  # type: ignore[arg-type]
    with pytest.raises(FetchError) as loop:
        run(f.get("https://x.vn/a"))
    assert loop.value.reason == "redirect_loop"
    assert (
        str(loop.value)
        == "https://x.vn/a: redirect loop (https://x.vn/a → https://x.vn/b → https://x.vn/a)"
    )
    with pytest.raises(FetchError) as chain:
        run(f.get("https://x.vn/hop0"))
    assert chain.value.reason == "redirects"
    assert str(chain.value).startswith("https://x.vn/hop0: more than")
    assert "last https://x.vn/hop" in str(chain.value)


@pytest.mark.parametrize(
    ("robots", "outcome"),
    [
        (httpx.Response(404), "allowed"),
        (httpx.Response(401), "allowed"),
        (httpx.Response(500), "unreadable"),
        (httpx.Response(200, text="User-agent: canhbao-collector\nDisallow: /\n"), "disallowed"),
        (httpx.Response(200, text="User-agent: *\nAllow: /\n"), "allowed"),
    ],
)
def test_robots_txt_as_rfc_9309_reads_it(robots: httpx.Response, outcome: str) -> None:
    seen, handler = routes({"/robots.txt": [robots], "/a": [httpx.Response(200, text="a")]})
    f, _, _ = fetcher(handler, max_attempts=1)  # type: ignore[arg-type]
    if outcome == "allowed":
        assert run(f.get("https://x.vn/a")).body == b"a"
        return
    expected = RobotsDisallowed if outcome == "disallowed" else FetchError
    with pytest.raises(expected) as caught:
        run(f.get("https://x.vn/a"))
    assert caught.value.reason == ("robots" if outcome == "disallowed" else "robots_unreadable")
    assert "/a" not in [r.url.path for r in seen]


def test_unreachable_host_is_reported_as_such_not_as_a_robots_refusal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    f, _, _ = fetcher(handler, max_attempts=1)
    with pytest.raises(FetchError, match="Name or service not known") as caught:
        run(f.get("https://khong-ton-tai.vn/rss"))
    assert caught.value.reason == "robots_unreadable"


def test_crawl_delay_and_rate_limit_space_requests_per_host() -> None:
    robots = httpx.Response(200, text="User-agent: *\nCrawl-delay: 2\n")
    _, handler = routes({"/robots.txt": [robots], "/a": [httpx.Response(200)]})
    f, sleeps, _ = fetcher(handler)  # type: ignore[arg-type]

    async def three() -> None:
        for _ in range(3):
            await f.get("https://x.vn/a")

    run(three())
    assert len(sleeps) >= 2
    assert all(s > 1.5 for s in sleeps[-2:])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=1_445_412_480.0 + 10) == expected
