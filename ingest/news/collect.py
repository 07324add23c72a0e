"""Collect a news feed or sitemap: list new article URLs, fetch each page, extract its text."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import ValidationError

from ingest.checkpoints import MAX_DEFERRALS, Checkpoint
from ingest.collected import CollectContext, Collected, Rejected
from ingest.exceptions import FetchError, PayloadError, RobotsDisallowed
from ingest.http import FetchResult
from ingest.news.article import Article, NotAnArticle, extract_article
from ingest.news.feeds import FeedEntry, parse_feed
from ingest.news.sitemaps import SitemapUrl, parse_sitemap
from ingest.sources import RssSource, SitemapSource
from schemas import Platform, PostKind, RawPost

__all__ = ["collect_feed", "collect_sitemap"]

# A news sitemap lists the last two days; older entries in a plain sitemap are archive, not news.
_SITEMAP_WINDOW = timedelta(days=2)
_MAX_CHILD_SITEMAPS = 5
# An article to fetch: (url, title, summary, published), the last three hints from the listing.
_Item = tuple[str, str | None, str | None, datetime | None]
# Failures that the same request will meet again: deferred per URL, not retried every round.
# (408 and 425 are "try again" answers; 429 is a rate limit, handled as such.)
_PERMANENT = frozenset({"too_large", "redirect_loop", "redirects"})
_TRANSIENT_4XX = frozenset({"http_408", "http_425"})


def _is_permanent(exc: FetchError) -> bool:
    reason = exc.reason
    return reason in _PERMANENT or (reason.startswith("http_4") and reason not in _TRANSIENT_4XX)


def _post(
    source: RssSource | SitemapSource,
    ctx: CollectContext,
    url: str,
    *,
    title: str | None,
    text: str,
    published_at: datetime | None,
) -> RawPost:
    return RawPost(
        platform=Platform.NEWS,
        source_id=source.name,
        external_id=url,
        url=url,
        kind=PostKind.ARTICLE,
        title=title[:2000] if title else None,
        text=text,
        published_at=published_at,
        collected_at=ctx.clock(),
        raw_ref=url,
    )


def _failed_for_good(checkpoint: Checkpoint, out: Collected, url: str, exc: FetchError) -> None:
    """Deferred with backoff; after `MAX_DEFERRALS` tries, a dead letter (and seen)."""
    tries = checkpoint.attempts(url) + 1
    if tries >= MAX_DEFERRALS:
        detail = f"{exc} (gave up after {tries} tries)"
        out.reject(Rejected(url, exc.reason, detail, None))
    else:
        out.defer(url, exc.reason, str(exc))


async def _article_post(
    source: RssSource | SitemapSource,
    ctx: CollectContext,
    checkpoint: Checkpoint,
    out: Collected,
    url: str,
    hint_title: str | None,
    hint_published: datetime | None,
) -> RawPost | None:
    try:
        page = await ctx.fetcher.get(url, rate_per_s=source.rate_per_s)
        article: Article = await ctx.run_cpu(extract_article, page.text, page.url)
    except NotAnArticle as exc:  # a hub page listed as an item: never an article
        out.reject(Rejected(url, "not_an_article", str(exc), None))
        return None
    except PayloadError as exc:
        out.reject(Rejected(url, "no_article_text", str(exc), None))
        return None
    except RobotsDisallowed as exc:  # a standing "no": skip it for good, do not retry forever
        out.reject(Rejected(url, "robots_disallowed", str(exc), None))
        return None
    except FetchError as exc:
        if _is_permanent(exc):
            _failed_for_good(checkpoint, out, url, exc)
        else:
            out.fail(exc.reason, str(exc))
        return None
    try:
        return _post(
            source,
            ctx,
            url,
            title=article.title or hint_title,
            text=article.text,
            published_at=article.published_at or hint_published,
        )
    except ValidationError as exc:
        out.reject(Rejected(url, "invalid_post", str(exc.errors(include_url=False)[0]), None))
        return None


async def _gather_articles(
    source: RssSource | SitemapSource,
    ctx: CollectContext,
    checkpoint: Checkpoint,
    out: Collected,
    items: Sequence[_Item],
) -> None:
    """Fetch the pages concurrently; the fetcher's per-host limits keep it polite."""
    if not source.fetch_articles:
        for url, title, summary, published in items:
            text = summary or title
            if not text:
                out.reject(
                    Rejected(url, "no_text", "feed entry has neither summary nor title", None)
                )
                continue
            try:
                out.posts.append(
                    _post(
                        source,
                        ctx,
                        url,
                        title=title,
                        text=text,
                        published_at=published,
                    )
                )
            except ValidationError as exc:
                out.reject(
                    Rejected(url, "invalid_post", str(exc.errors(include_url=False)[0]), None)
                )
        return
    results = await asyncio.gather(
        *(
            _article_post(source, ctx, checkpoint, out, url, title, published)
            for url, title, _, published in items
        )
    )
    out.posts.extend(post for post in results if post is not None)


def _new_only(
    out: Collected, checkpoint: Checkpoint, urls: list[str], limit: int, now: datetime
) -> list[int]:
    out.fetched += len(urls)
    fresh: list[int] = []
    seen_now: set[str] = set()
    for index, url in enumerate(urls):
        deferral = checkpoint.deferral(url)
        if checkpoint.has_seen(url) or url in seen_now:
            out.duplicates += 1
        elif deferral is not None and deferral.retry_at > now:
            out.skip("deferred")
        elif len(fresh) < limit:
            fresh.append(index)
            seen_now.add(url)
    return fresh


def _due_unlisted(checkpoint: Checkpoint, listed: list[str], now: datetime) -> list[_Item]:
    """Deferred URLs due again that the listing no longer shows (feeds keep only the newest)."""
    shown = set(listed)
    return [(d.url, None, None, None) for d in checkpoint.due(now) if d.url not in shown]


async def _listing(
    source: RssSource | SitemapSource, ctx: CollectContext, checkpoint: Checkpoint, out: Collected
) -> FetchResult | None:
    """The feed or sitemap, fetched conditionally; None when it failed or has not changed
    (then the checkpoint's validators are carried over as they were)."""
    out.etag, out.last_modified = checkpoint.etag, checkpoint.last_modified
    try:
        page = await ctx.fetcher.get(
            source.url,
            etag=checkpoint.etag,
            last_modified=checkpoint.last_modified,
            rate_per_s=source.rate_per_s,
        )
    except FetchError as exc:
        out.fail(exc.reason, str(exc))
        return None
    return None if page.not_modified else page


async def collect_feed(source: RssSource, ctx: CollectContext, checkpoint: Checkpoint) -> Collected:
    out = Collected(source.name)
    feed = await _listing(source, ctx, checkpoint, out)
    if feed is None:
        return out
    try:
        parsed = parse_feed(feed.body, feed.headers)
    except PayloadError as exc:
        out.fail("malformed_feed", f"{source.url}: {exc}")
        return out
    entries: list[FeedEntry] = parsed.entries
    for title in parsed.unlinked:
        out.reject(Rejected(None, "no_link", f"{source.url}: an item without a link", title))
    if parsed.truncated:
        # What was read is delivered; the feed is not complete, so it is read whole next time.
        out.fail(
            "truncated_feed",
            f"{source.url}: the feed ends before its closing tag; {len(entries)} items read",
        )
    out.etag, out.last_modified = feed.headers.get("etag"), feed.headers.get("last-modified")
    now = ctx.clock()
    urls = [e.url for e in entries]
    fresh = _new_only(out, checkpoint, urls, source.max_items, now)
    items: list[_Item] = [
        (entries[i].url, entries[i].title, entries[i].summary, entries[i].published_at)
        for i in fresh
    ]
    if source.fetch_articles:
        items += _due_unlisted(checkpoint, urls, now)
    await _gather_articles(source, ctx, checkpoint, out, items)
    return out


async def _sitemap_urls(
    source: SitemapSource, ctx: CollectContext, checkpoint: Checkpoint, out: Collected
) -> list[SitemapUrl] | None:
    page = await _listing(source, ctx, checkpoint, out)
    if page is None:
        return None
    try:
        sitemap = parse_sitemap(page.body)
    except PayloadError as exc:
        out.fail("malformed_sitemap", f"{source.url}: {exc}")
        return None
    out.etag, out.last_modified = page.headers.get("etag"), page.headers.get("last-modified")
    urls = list(sitemap.urls)
    newest = sorted(
        sitemap.children, key=lambda c: c[1].timestamp() if c[1] else 0.0, reverse=True
    )[:_MAX_CHILD_SITEMAPS]
    for child_url, _ in newest:
        try:
            child = await ctx.fetcher.get(child_url, rate_per_s=source.rate_per_s)
            urls.extend(parse_sitemap(child.body).urls)
        except FetchError as exc:
            out.fail(exc.reason, str(exc))
        except PayloadError as exc:
            out.fail("malformed_sitemap", f"{child_url}: {exc}")
    return urls


async def collect_sitemap(
    source: SitemapSource, ctx: CollectContext, checkpoint: Checkpoint
) -> Collected:
    out = Collected(source.name)
    urls = await _sitemap_urls(source, ctx, checkpoint, out)
    if urls is None:
        return out
    now = ctx.clock()
    oldest = now - _SITEMAP_WINDOW
    recent = [u for u in urls if u.published_at is None or u.published_at >= oldest]
    out.skip("outside_window", len(urls) - len(recent))
    recent.sort(key=lambda u: u.published_at.timestamp() if u.published_at else 0.0, reverse=True)
    listed = [u.url for u in recent]
    fresh = _new_only(out, checkpoint, listed, source.max_items, now)
    items: list[_Item] = [
        (recent[i].url, recent[i].title, None, recent[i].published_at) for i in fresh
    ]
    items += _due_unlisted(checkpoint, [u.url for u in urls], now)
    await _gather_articles(source, ctx, checkpoint, out, items)
    return out
