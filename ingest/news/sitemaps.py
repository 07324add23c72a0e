"""Sitemaps (plain, Google News, and sitemap indexes) → article URLs with their dates."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ingest.canonical import canonical_url
from ingest.dates import parse_datetime
from ingest.exceptions import PayloadError

__all__ = ["Sitemap", "SitemapUrl", "parse_sitemap"]

_NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_MAX_INFLATED = 50_000_000  # the sitemap protocol's own limit is 50 MB uncompressed


@dataclass(frozen=True, slots=True)
class SitemapUrl:
    url: str
    published_at: datetime | None
    title: str | None


@dataclass(frozen=True, slots=True)
class Sitemap:
    urls: list[SitemapUrl]
    children: list[tuple[str, datetime | None]]  # from a sitemap index: (url, lastmod)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text:
            return child.text.strip()
    return None


def _inflate(body: bytes) -> bytes:
    """`.xml.gz` sitemaps come gzipped without a Content-Encoding; cap what we inflate."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, _MAX_INFLATED)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise PayloadError(f"broken gzip sitemap: {exc}") from exc
    if inflater.unconsumed_tail:
        raise PayloadError(f"sitemap inflates past {_MAX_INFLATED} bytes")
    return data


def parse_sitemap(body: bytes) -> Sitemap:
    try:
        root = fromstring(_inflate(body))
    except (ParseError, DefusedXmlException) as exc:
        raise PayloadError(f"malformed sitemap XML: {exc}") from exc
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise PayloadError(f"not a sitemap: root element <{kind}>")
    urls: list[SitemapUrl] = []
    children: list[tuple[str, datetime | None]] = []
    for element in root:
        loc = _child_text(element, "loc")
        if not loc:
            continue
        try:
            url = canonical_url(loc)
        except ValueError:
            continue
        lastmod = parse_datetime(_child_text(element, "lastmod"))
        if kind == "sitemapindex":
            children.append((url, lastmod))
            continue
        news = element.find(f"{_NEWS_NS}news")
        title = published = None
        if news is not None:
            title = (news.findtext(f"{_NEWS_NS}title") or "").strip() or None
            published = parse_datetime(news.findtext(f"{_NEWS_NS}publication_date"))
        urls.append(SitemapUrl(url, published or lastmod, title))
    return Sitemap(urls, children)
