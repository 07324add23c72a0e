"""Collectors against real HTTP servers on loopback: every failure mode a news site or API shows
(redirects, 304, 429, 5xx, timeouts, truncated, gzip, legacy charsets, huge, robots), and the
rule that a partial failure never advances a checkpoint past what was not delivered."""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest.checkpoints import CheckpointStore
from ingest.fixture_server import FixtureServer, Reply, serve_fixtures
from ingest.fixture_site import article_html, hub_html, publish_site, rss_xml, sitemap_xml
from ingest.runtime import CollectorRuntime
from ingest.scheduler import CollectorDeadLetters, SourceReport
from ingest.sources import (
    CollectorDefaults,
    FacebookPageSource,
    RssSource,
    SitemapSource,
    Source,
    SourceRegistry,
)
from tests.integration.helpers import ListSink
from tests.unit.ingest.helpers import cp1258

pytestmark = pytest.mark.integration


@pytest.fixture
def site() -> Iterator[FixtureServer]:
    with serve_fixtures() as server:
        yield server


class Harness:
    def __init__(self, tmp_path: Path, sources: list[Source], **defaults: Any) -> None:
        options = {"per_host_rate_per_s": 1000.0, "timeout_s": 2.0} | defaults
        self.now = datetime.now(UTC)  # the collectors' clock; a test moves it forward
        self.runtime = CollectorRuntime(
            SourceRegistry(defaults=CollectorDefaults(**options), sources=tuple(sources)),
            CheckpointStore(tmp_path / "checkpoints.db"),
            CollectorDeadLetters(tmp_path / "dead.jsonl"),
            backoff_base_s=0.05,
            clock=lambda: self.now,
        )
        self.sink = ListSink()
        self.dead_letters = tmp_path / "dead.jsonl"

    def run(self) -> dict[str, SourceReport]:
        reports = asyncio.run(self.runtime.run(self.sink))
        return {r.source: r for r in reports}

    def dead(self) -> list[dict[str, Any]]:
        if not self.dead_letters.exists():
            return []
        return [json.loads(x) for x in self.dead_letters.read_text().splitlines()]


def rss(site: FixtureServer, name: str = "feed", path: str = "/rss.xml", **kw: Any) -> RssSource:
    return RssSource(name=name, type="rss", url=site.url(path), allow_internal=True, **kw)


def test_feed_articles_then_nothing_new_then_304(site: FixtureServer, tmp_path: Path) -> None:
    items = publish_site(site, range(6))
    site.route(
        "/rss.xml", Reply.text(rss_xml(site.base_url, items), "application/rss+xml", etag='"v1"')
    )
    h = Harness(tmp_path, [rss(site)])
    first = h.run()["feed"]
    assert (first.new, first.ok) == (6, True)
    post = h.sink.posts[0]
    assert post.kind.value == "article"
    assert post.published_at is not None
    assert post.author_ref is None  # the byline is not kept: we classify content, not people
    assert "utm_source" not in post.url
    assert post.title
    second = h.run()["feed"]
    assert second.new == 0
    assert second.fetched == 0
    assert site.hits("/rss.xml")[-1].headers.get("if-none-match") == '"v1"'
    assert len(site.hits("/bai-viet/0.html")) == 1
    assert len(h.sink.posts) == 6


def test_redirect_gzip_and_legacy_charset(site: FixtureServer, tmp_path: Path) -> None:
    items = publish_site(site, range(2))
    site.route("/old-rss", Reply(status=301, headers={"Location": "/rss.xml"}))
    body = rss_xml(site.base_url, items).encode()
    site.route(
        "/rss.xml", Reply(body=body, gzip=True, headers={"Content-Type": "application/rss+xml"})
    )
    _, page = article_html(1, datetime(2026, 11, 29, 7, 0, tzinfo=UTC))
    legacy = page.replace('charset="utf-8"', 'charset="windows-1258"').encode(
        "cp1258", "xmlcharrefreplace"
    )
    site.route(
        "/bai-viet/1.html",
        Reply(body=legacy, headers={"Content-Type": "text/html; charset=windows-1258"}),
    )
    h = Harness(tmp_path, [rss(site, path="/old-rss")])
    report = h.run()["feed"]
    assert report.ok
    assert report.new == 2
    texts = {p.external_id.rsplit("/", 1)[-1]: p.text for p in h.sink.posts}
    assert "người dân" in texts["1.html"].lower() or "Người dân" in texts["1.html"]


def test_a_feed_item_without_a_link_is_recorded_and_an_undeclared_legacy_feed_decoded(
    site: FixtureServer, tmp_path: Path
) -> None:
    """Reliability findings: an item without a link was skipped unrecorded; a Windows-1258
    feed without a declaration came out garbled (feedparser's own fallback), with no warning."""
    items = publish_site(site, range(2))
    feed = rss_xml(site.base_url, items).replace('<?xml version="1.0" encoding="UTF-8"?>', "")
    feed = feed.replace(
        "</channel>", "<item><title>Tin không có đường dẫn</title></item></channel>"
    )
    site.route(
        "/rss.xml", Reply(body=cp1258(feed), headers={"Content-Type": "application/rss+xml"})
    )
    h = Harness(tmp_path, [rss(site)])
    report = h.run()["feed"]
    assert (report.new, report.rejected, report.ok) == (2, 1, True)
    dead = [json.loads(x) for x in h.dead_letters.read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in dead] == [("feed", "no_link")]
    titles = {unicodedata.normalize("NFC", p.title or "") for p in h.sink.posts}
    assert titles == {unicodedata.normalize("NFC", title) for _, title, _ in items}


def test_429_and_5xx_are_retried_and_truncated_bodies_refetched(
    site: FixtureServer, tmp_path: Path
) -> None:
    items = publish_site(site, range(3))
    feed = rss_xml(site.base_url, items)
    site.route(
        "/rss.xml",
        Reply(status=429, headers={"Retry-After": "1"}),
        Reply(status=502),
        Reply.text(feed, "application/rss+xml"),
    )
    _, page = article_html(2, datetime.now(UTC))
    truncated = Reply(body=page.encode(), truncate_at=500, headers={"Content-Type": "text/html"})
    site.route("/bai-viet/2.html", truncated, Reply.text(page))
    h = Harness(tmp_path, [rss(site)])
    report = h.run()["feed"]
    assert report.ok, report.failures
    assert report.new == 3
    assert len(site.hits("/rss.xml")) == 3
    assert len(site.hits("/bai-viet/2.html")) == 2
    gaps = [
        b.at - a.at for a, b in zip(site.hits("/rss.xml"), site.hits("/rss.xml")[1:], strict=False)
    ]
    assert gaps[0] >= 0.9  # Retry-After: 1 was honoured


def test_partial_failure_delivers_the_rest_and_retries_only_the_missing(
    site: FixtureServer, tmp_path: Path
) -> None:
    items = publish_site(site, range(5))
    site.route(
        "/rss.xml", Reply.text(rss_xml(site.base_url, items), "application/rss+xml", etag='"e"')
    )
    site.route("/bai-viet/3.html", Reply(status=500))
    _, slow_page = article_html(4, datetime.now(UTC))
    site.route("/bai-viet/4.html", Reply.text(slow_page, delay_s=3.0))  # over the 2 s timeout
    h = Harness(tmp_path, [rss(site)], max_attempts=2)
    first = h.run()["feed"]
    assert first.new == 3
    assert not first.ok
    assert {reason for reason, _ in first.failures} == {"500", "timeout"}
    checkpoint = h.runtime.checkpoints.load("feed")
    assert checkpoint.etag is None  # validators did not move: the feed is read again next time
    _, page3 = article_html(3, datetime.now(UTC))
    site.route("/bai-viet/3.html", Reply.text(page3))
    site.route("/bai-viet/4.html", Reply.text(slow_page))
    second = h.run()["feed"]
    assert second.ok
    assert second.new == 2
    assert second.duplicates == 3
    assert sorted(p.external_id for p in h.sink.posts) == sorted(
        {p.external_id for p in h.sink.posts}
    )
    assert h.runtime.checkpoints.load("feed").etag == '"e"'


def test_broken_feed_huge_page_and_robots_do_not_stop_other_sources(
    site: FixtureServer, tmp_path: Path
) -> None:
    items = publish_site(site, range(3), robots="User-agent: *\nDisallow: /bai-viet/1.html\n")
    site.route("/broken.xml", Reply.text("<rss><channel><item><title>cắt", "application/rss+xml"))
    site.route(
        "/bai-viet/2.html", Reply(huge_bytes=30_000_000, headers={"Content-Type": "text/html"})
    )
    h = Harness(
        tmp_path,
        [
            rss(site, "broken", "/broken.xml"),
            rss(site, "good"),
            SitemapSource(
                name="news-sitemap",
                type="sitemap",
                url=site.url("/sitemap-news.xml"),
                allow_internal=True,
            ),
        ],
    )
    reports = h.run()
    assert reports["broken"].failures[0][0] == "malformed_feed"
    good = reports["good"]
    assert good.new == 1
    assert good.rejected == 1
    assert (good.deferred, good.ok) == (1, True)  # too large: tried again later, not now
    assert not site.hits("/bai-viet/1.html")  # disallowed: never fetched
    dead = [json.loads(x) for x in h.dead_letters.read_text().splitlines()]
    assert {(d["source"], d["reason"]) for d in dead} >= {("good", "robots_disallowed")}
    assert reports["news-sitemap"].fetched == 3
    assert items


def test_facebook_graph_pagination_over_http_without_duplicates(
    site: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def page(ids: list[int], after: str | None) -> Reply:
        data = [
            {
                "id": f"9_{i}",
                "message": f"Bài {i}",
                "created_time": "2026-11-29T01:00:00+0000",
                "permalink_url": f"https://www.facebook.com/9/posts/{i}",
            }
            for i in ids
        ]
        paging = {"cursors": {"after": after}, "next": "https://graph/next"} if after else {}
        return Reply(
            body=json.dumps({"data": data, "paging": paging}).encode(),
            headers={"Content-Type": "application/json"},
        )

    # Graph pages are answered in order; comments are off here (unit-tested separately).
    site.route("/v21.0/9/posts", page([1, 2], "A"), page([2, 3], None))
    monkeypatch.setenv("CANHBAO_TEST_FB", "token")
    source = FacebookPageSource(
        name="fb",
        type="facebook_page",
        page_id="9",
        credentials="env:CANHBAO_TEST_FB",
        api_base=site.base_url,
        allow_internal=True,
        include_comments=False,
    )
    report = Harness(tmp_path, [source]).run()["fb"]
    assert report.ok
    assert report.new == 3
    assert report.duplicates == 1
    assert site.hits("/v21.0/9/posts")[1].query["after"] == ["A"]


def test_a_slow_host_does_not_hold_up_the_others(tmp_path: Path) -> None:
    with serve_fixtures() as slow, serve_fixtures() as fast:
        publish_site(slow, range(4), delay_s=1.0)
        publish_site(fast, range(100, 108))
        h = Harness(tmp_path, [rss(slow, "slow"), rss(fast, "fast")], per_host_concurrency=1)
        finished: dict[str, float] = {}
        started = time.monotonic()

        def done(report: SourceReport) -> None:
            finished[report.source] = time.monotonic() - started

        reports = asyncio.run(h.runtime.run(h.sink, on_report=done))
    assert all(r.ok for r in reports)
    assert finished["fast"] < 1.5 < finished["slow"]  # the slow site takes ~5 s, alone


def test_run_forever_collects_on_schedule_until_stopped(
    site: FixtureServer, tmp_path: Path
) -> None:
    publish_site(site, range(3))
    h = Harness(tmp_path, [rss(site, interval=1, jitter=0.0)])

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(h.runtime.run(h.sink, once=False, stop=stop))
        deadline = time.monotonic() + 15
        while len(site.hits("/rss.xml")) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert len(site.hits("/rss.xml")) >= 2
    assert len(h.sink.posts) == 3
    metrics = h.runtime.metrics.registry
    assert metrics.get_sample_value("canhbao_collector_items_new_total", {"source": "feed"}) == 3
    assert metrics.get_sample_value("canhbao_collector_last_success_timestamp", {"source": "feed"})


def test_permanent_errors_are_deferred_per_url_with_backoff_then_given_up(
    site: FixtureServer, tmp_path: Path
) -> None:
    """A 404, a redirect loop and a page over the size limit were fetched again every round,
    forever. Now each is deferred (counted, not a source failure), skipped while its pause
    runs, tried again when due (1 h, 2 h, 4 h, 8 h), and after five tries written to the dead
    letters with its reason and marked seen."""
    items = publish_site(site, range(4))
    site.route("/bai-viet/1.html", Reply(status=404))
    site.route("/bai-viet/2.html", Reply(status=302, headers={"Location": "/bai-viet/2b.html"}))
    site.route("/bai-viet/2b.html", Reply(status=301, headers={"Location": "/bai-viet/2.html"}))
    site.route(
        "/bai-viet/3.html", Reply(huge_bytes=30_000_000, headers={"Content-Type": "text/html"})
    )
    h = Harness(tmp_path, [rss(site)])
    first = h.run()["feed"]
    assert (first.new, first.deferred, first.rejected, first.ok) == (1, 3, 0, True)
    again = h.run()["feed"]  # the same hour: nothing is fetched again
    assert (again.deferred, again.skipped) == (0, {"deferred": 3})
    assert len(site.hits("/bai-viet/1.html")) == 1
    for tries in range(2, 6):
        h.now += timedelta(hours=2 ** (tries - 2), minutes=1)
        report = h.run()["feed"]
        assert len(site.hits("/bai-viet/1.html")) == tries
        if tries < 5:
            assert report.deferred == 3
    assert report.rejected == 3
    dead = {d["external_id"].rsplit("/", 1)[-1]: d for d in h.dead()}
    assert {k: d["reason"] for k, d in dead.items()} == {
        "1.html": "http_404",
        "2.html": "redirect_loop",
        "3.html": "too_large",
    }
    assert "gave up after 5 tries" in dead["1.html"]["detail"]
    assert "/bai-viet/2b.html" in dead["2.html"]["detail"]  # the loop is shown, with its URLs
    h.now += timedelta(days=2)
    final = h.run()["feed"]
    assert (final.new, final.deferred, final.duplicates) == (0, 0, 4)
    assert len(site.hits("/bai-viet/1.html")) == 5
    assert items


def test_a_page_that_comes_back_after_a_404_is_collected_and_forgotten_by_the_backoff(
    site: FixtureServer, tmp_path: Path
) -> None:
    items = publish_site(site, range(2))
    _, page = article_html(1, items[1][2])
    site.route("/bai-viet/1.html", Reply(status=404))  # listed before it is published
    h = Harness(tmp_path, [rss(site)])
    assert h.run()["feed"].deferred == 1
    site.route("/bai-viet/1.html", Reply.text(page))
    h.now += timedelta(hours=1, minutes=1)
    report = h.run()["feed"]
    assert (report.new, report.deferred) == (1, 0)
    assert not h.runtime.checkpoints.load("feed").deferred


def test_a_hub_page_in_a_feed_is_a_dead_letter_not_an_article(
    site: FixtureServer, tmp_path: Path
) -> None:
    items = publish_site(site, range(3))
    site.route("/bai-viet/2.html", Reply.text(hub_html("Thời sự", range(10, 22))))
    h = Harness(tmp_path, [rss(site)])
    report = h.run()["feed"]
    assert (report.new, report.rejected, report.ok) == (2, 1, True)
    [dead] = h.dead()
    assert dead["reason"] == "not_an_article"
    assert "teasers" in dead["detail"]
    assert items


def test_a_truncated_feed_is_reported_and_read_whole_next_time(
    site: FixtureServer, tmp_path: Path
) -> None:
    """A feed cut off after three of its five items was reported OK."""
    items = publish_site(site, range(5))
    full = rss_xml(site.base_url, items)
    cut = full[: full.index("</item>", full.index("/bai-viet/2.html")) + len("</item>")]
    site.route("/rss.xml", Reply.text(cut, "application/rss+xml", etag='"cut"'))
    h = Harness(tmp_path, [rss(site)])
    first = h.run()["feed"]
    assert not first.ok
    assert [reason for reason, _ in first.failures] == ["truncated_feed"]
    assert first.new == 3  # what was read is delivered
    assert h.runtime.checkpoints.load("feed").etag is None  # not "complete": read again
    site.route("/rss.xml", Reply.text(full, "application/rss+xml", etag='"full"'))
    second = h.run()["feed"]
    assert (second.ok, second.new, second.duplicates) == (True, 2, 3)


def test_sitemap_entries_outside_the_freshness_window_are_counted(
    site: FixtureServer, tmp_path: Path
) -> None:
    items = publish_site(site, range(3))
    old = [(100 + i, f"Tin cũ {i}", datetime.now(UTC) - timedelta(days=5 + i)) for i in range(4)]
    site.route("/sitemap.xml", Reply.text(sitemap_xml(site.base_url, items + old), "text/xml"))
    source = SitemapSource(
        name="sitemap", type="sitemap", url=site.url("/sitemap.xml"), allow_internal=True
    )
    h = Harness(tmp_path, [source])
    report = h.run()["sitemap"]
    assert (report.new, report.skipped, report.ok) == (3, {"outside_window": 4}, True)
    samples = h.runtime.metrics.registry.get_sample_value(
        "canhbao_collector_items_skipped_total", {"source": "sitemap", "reason": "outside_window"}
    )
    assert samples == 4
