"""The egress guard against real HTTP servers on loopback.

Finding 5 of the trust & safety issue: a feed item linking to `http://127.0.0.1:PORT/...` was
fetched, stored and raised an alert with that internal page's text. Here one server plays the
allowed source (a feed on loopback, `allow_internal: true`), another the internal service that
feed items, redirects and a webhook try to reach; the internal one must see no request at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from alerting.delivery import WebhookSender
from alerting.delivery.channels import SendFailed
from alerting.delivery.config import WebhookChannel
from ingest.checkpoints import CheckpointStore
from ingest.fixture_server import FixtureServer, Reply, serve_fixtures
from ingest.fixture_site import article_html, publish_site
from ingest.runtime import CollectorRuntime
from ingest.scheduler import CollectorDeadLetters
from ingest.sources import CollectorDefaults, RssSource, SourceRegistry
from schemas import DeliveryMessage
from tests.integration.helpers import ListSink

pytestmark = pytest.mark.integration

INTERNAL_PATHS = ["/robots.txt", "/admin", "/admin-by-name", "/after-redirect", "/hook"]


@pytest.fixture
def internal() -> Iterator[FixtureServer]:
    """A service inside our network: an admin page that must never reach an analyst."""
    with serve_fixtures() as server:
        _, page = article_html(99, datetime.now(UTC))
        secret = page.replace("<p>", "<p>MẬT — trang quản trị nội bộ. ", 1)
        for path in INTERNAL_PATHS:
            server.route(path, Reply.text(secret))
        yield server


@pytest.fixture
def source_site() -> Iterator[FixtureServer]:
    with serve_fixtures() as server:
        yield server


def _feed(site: FixtureServer, links: list[str]) -> str:
    stamp = format_datetime(datetime.now(UTC))
    items = "".join(
        f"<item><title>Tin {i}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{stamp}</pubDate><description>Tóm tắt {i}</description></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Báo Mẫu</title><link>{site.base_url}/</link>{items}</channel></rss>"
    )


def _collect(tmp_path: Path, source: RssSource) -> tuple[ListSink, str]:
    runtime = CollectorRuntime(
        SourceRegistry(
            defaults=CollectorDefaults(per_host_rate_per_s=1000.0, timeout_s=3.0, max_attempts=1),
            sources=(source,),
        ),
        CheckpointStore(tmp_path / "checkpoints.db"),
        CollectorDeadLetters(tmp_path / "dead.jsonl"),
        backoff_base_s=0.05,
    )
    sink = ListSink()
    reports = asyncio.run(runtime.run(sink))
    runtime.checkpoints.close()
    dead = (
        (tmp_path / "dead.jsonl").read_text("utf-8") if (tmp_path / "dead.jsonl").exists() else ""
    )
    return sink, json.dumps([r.as_dict() for r in reports], ensure_ascii=False) + dead


def _untouched(server: FixtureServer) -> None:
    for path in INTERNAL_PATHS:
        assert server.hits(path) == [], f"the internal server was asked for {path}"


def test_feed_items_and_redirects_into_internal_addresses_are_not_fetched(
    source_site: FixtureServer, internal: FixtureServer, tmp_path: Path
) -> None:
    [(number, _, _)] = publish_site(source_site, range(1))
    by_name = internal.base_url.replace("127.0.0.1", "localhost")
    source_site.route(
        "/moved", Reply(status=302, headers={"Location": internal.url("/after-redirect")})
    )
    links = [
        f"{source_site.base_url}/bai-viet/{number}.html",  # the source's own article: fine
        internal.url("/admin"),  # an address inside
        f"{by_name}/admin-by-name",  # a host name that resolves inside
        source_site.url("/moved"),  # an allowed host that redirects inside
    ]
    source_site.route("/rss.xml", Reply.text(_feed(source_site, links), "application/rss+xml"))
    source = RssSource(
        name="bao-mau", type="rss", url=source_site.url("/rss.xml"), allow_internal=True
    )
    sink, record = _collect(tmp_path, source)
    _untouched(internal)
    assert [p.url for p in sink.posts] == [links[0]]
    assert "MẬT" not in json.dumps([p.model_dump(mode="json") for p in sink.posts])
    assert record.count("egress_refused") >= 3, record  # each refusal is counted, not silent


def test_a_source_on_an_internal_address_needs_allow_internal(
    internal: FixtureServer, tmp_path: Path
) -> None:
    internal.route(
        "/rss.xml", Reply.text(_feed(internal, [internal.url("/admin")]), "application/rss+xml")
    )
    source = RssSource(name="noi-bo", type="rss", url=internal.url("/rss.xml"))
    sink, record = _collect(tmp_path, source)
    assert sink.posts == []
    assert internal.hits("/rss.xml") == []
    _untouched(internal)
    assert "egress_refused" in record


def _message() -> DeliveryMessage:
    return DeliveryMessage(
        delivery_id="dl_test_1",
        destination="cong_an",
        alert_ids=["al_" + "a" * 32],
        excerpt="trích đoạn",
        reason="đã xác nhận",
        decided_at=datetime.now(UTC),
    )


def test_webhooks_to_internal_addresses_are_refused_unless_the_channel_allows_them(
    internal: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANHBAO_TEST_EGRESS_SECRET", "webhook-secret-0123456789")
    refused = WebhookSender(
        WebhookChannel(
            type="webhook", url=internal.url("/hook"), secret="env:CANHBAO_TEST_EGRESS_SECRET"
        )
    )
    with pytest.raises(SendFailed) as failure:
        refused.send(_message())
    assert failure.value.permanent
    assert "loopback" in str(failure.value)
    assert internal.hits("/hook") == []
    allowed = WebhookSender(
        WebhookChannel(
            type="webhook",
            url=internal.url("/hook"),
            secret="env:CANHBAO_TEST_EGRESS_SECRET",
            allow_internal=True,
        )
    )
    allowed.send(_message())
    assert len(internal.hits("/hook")) == 1
