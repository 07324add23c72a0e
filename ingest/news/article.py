"""An article page → title, lead, body, byline and publication time (trafilatura).

Pure CPU work on a string, so the collector can run it in a process pool. The publication time
is looked up in the page's own metadata first (Open Graph, schema.org JSON-LD, `<time>`), then
in the Vietnamese date lines sites print under the headline, with time of day — trafilatura's
own date has day precision only and is the last resort.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import trafilatura
from trafilatura.settings import use_config

from ingest.dates import parse_datetime
from ingest.exceptions import PayloadError
from ingest.news.text import clean_text, html_to_text

__all__ = ["Article", "extract_article", "find_published_at"]

# Models read the beginning; the pipeline rejects texts over its byte limit. A longer article
# is cut at a paragraph boundary rather than lost.
MAX_ARTICLE_CHARS = 40_000
# Less than this is a hub, tag or error page (navigation, "Trang chủ"), not an article.
MIN_ARTICLE_CHARS = 80

_CONFIG = use_config()
_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signals do not work off the main thread

_META_DATE_RE = re.compile(
    r"""<meta[^>]+(?:property|name|itemprop)\s*=\s*["'](?:article:published_time|og:published_time|datePublished|pubdate|publishdate|publish-date|date|dc\.date\.issued)["'][^>]*>""",
    re.IGNORECASE,
)
_CONTENT_RE = re.compile(r"""content\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_JSONLD_DATE_RE = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')
_TIME_TAG_RE = re.compile(r"""<time[^>]+datetime\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_DATE_ELEMENT_RE = re.compile(
    r"""<(?:span|div|p|time)[^>]+class\s*=\s*["'][^"']*(?:date|time|publish)[^"']*["'][^>]*>(.{0,200}?)</""",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Article:
    title: str | None
    lead: str | None
    text: str
    author: str | None
    published_at: datetime | None


def find_published_at(html: str) -> datetime | None:
    head = html[:200_000]
    for match in _META_DATE_RE.finditer(head):
        content = _CONTENT_RE.search(match.group(0))
        if content and (when := parse_datetime(content.group(1))):
            return when
    for pattern in (_JSONLD_DATE_RE, _TIME_TAG_RE):
        if (found := pattern.search(head)) and (when := parse_datetime(found.group(1))):
            return when
    for found in _DATE_ELEMENT_RE.finditer(head):
        if when := parse_datetime(html_to_text(found.group(1))):
            return when
    return None


def _truncate(text: str) -> str:
    if len(text) <= MAX_ARTICLE_CHARS:
        return text
    cut = text.rfind("\n", 0, MAX_ARTICLE_CHARS)
    return text[: cut if cut > MAX_ARTICLE_CHARS // 2 else MAX_ARTICLE_CHARS].rstrip()


def _strip_header(body: str, title: str | None) -> str:
    """Drop the headline and the date line when the extractor kept them as the first lines."""
    lines = body.split("\n")
    while lines:
        first = lines[0].strip()
        if not first or first == title or (len(first) <= 80 and parse_datetime(first)):
            lines.pop(0)
            continue
        break
    return "\n".join(lines).strip()


def extract_article(html: str, url: str) -> Article:
    """Raises `PayloadError` when the page has no article text (a hub page, an error page)."""
    document: Any = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        config=_CONFIG,
    )
    body = clean_text(document.text or "").strip() if document is not None else ""
    if len(body) < MIN_ARTICLE_CHARS:
        raise PayloadError(f"no article text found at {url} ({len(body)} characters)")
    title = clean_text(document.title or "").strip() or None
    body = _strip_header(body, title) or body
    lead = clean_text(document.description or "").strip() or None
    if lead and (body.startswith(lead[:80]) or lead == title):
        lead = None  # the sapo is already the first paragraph
    published = find_published_at(html)
    if published is None and document.date:
        published = parse_datetime(document.date)
    author = clean_text(document.author or "").strip() or None
    text = f"{lead}\n\n{body}" if lead else body
    return Article(title, lead, _truncate(text), author, published)
