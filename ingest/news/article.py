"""An article page → title, lead, body, byline and publication time (trafilatura).

Pure CPU work on a string, so the collector can run it in a process pool.

A page is an article by its structure, not its length: a section or hub page ("Thời sự", a tag
page) also has hundreds of characters of text, but they are teasers — headlines that are links,
each with a sapo. Metadata that says "article" (Open Graph `og:type`, schema.org JSON-LD) is
believed; metadata that says "website" or a listing, or text that is mostly whole-line links,
makes a `NotAnArticle`.

The publication time comes from the article's own metadata only (`article:published_time` and
kin, JSON-LD `datePublished`, a `<time>` marked as the publication time), then from the date
line the site prints in the article's header (inside `<article>`, or just under the `<h1>`).
Never from any element whose class mentions a date: sidebars, "most read" boxes and site headers
print other days. Without one, the time is unknown (the feed's own date is used upstream).

The byline is cleaned: the site's name ("Dân Trí; Tri Túc" → "Tri Túc") and a source line
("Theo TTXVN") are not a person; a byline repeated as the body's last line is dropped from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml.etree import ParserError
from trafilatura.settings import use_config

from classifiers.text import fold
from ingest.dates import parse_datetime
from ingest.exceptions import PayloadError
from ingest.news.text import clean_text, html_to_text

__all__ = ["Article", "NotAnArticle", "clean_byline", "extract_article", "find_published_at"]

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
# A <time> that says it is the publication time (schema.org microdata or HTML's `pubdate`).
_PUBLISHED_TIME_RE = re.compile(
    r"""<time(?=[^>]*(?:itemprop\s*=\s*["']datePublished["']|\bpubdate\b))[^>]+datetime\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)
_TIME_TAG_RE = re.compile(r"""<time[^>]+datetime\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_DATE_ELEMENT_RE = re.compile(
    r"""<(?:span|div|p|time)[^>]+class\s*=\s*["'][^"']*(?:date|time|publish)[^"']*["'][^>]*>(.{0,200}?)</""",
    re.IGNORECASE | re.DOTALL,
)
_ARTICLE_ELEMENT_RE = re.compile(r"<article\b[^>]*>(.*?)</article>", re.IGNORECASE | re.DOTALL)
_H1_RE = re.compile(r"<h1\b", re.IGNORECASE)
# How far under the headline the site's own date line may be (sapo and byline come first on
# some sites); further down is the body and its boxes.
_HEADER_SPAN = 3_000

_OG_TYPE_RE = re.compile(
    r"""<meta[^>]+property\s*=\s*["']og:type["'][^>]+content\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)
_SITE_NAME_RE = re.compile(
    r"""<meta[^>]+(?:property|name)\s*=\s*["'](?:og:site_name|application-name)["'][^>]+content\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)
_JSONLD_TYPE_RE = re.compile(r'"@type"\s*:\s*\[?\s*"([A-Za-z]+)"')
_ARTICLE_TYPES = frozenset(
    {"Article", "NewsArticle", "ReportageNews", "AnalysisNewsArticle", "OpinionNewsArticle",
     "BackgroundNewsArticle", "BlogPosting", "LiveBlogPosting", "Report"}
)  # fmt: skip
_LISTING_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage", "WebSite"})
# A listing: at least this many teasers, holding at least this share of the page's text. An
# article's related box, if the extractor kept it at all, holds a small share.
_HUB_MIN_TEASERS = 4
_HUB_TEASER_SHARE = 0.5
_MAX_TEASER_CHARS = 700
# "Theo TTXVN", "Nguồn: Tuổi Trẻ": a few words naming a source, no sentence. ("Theo kế hoạch,
# việc … 3/9." is a sentence: its comma and full stop keep it in the body.)
_SOURCE_LINE_RE = re.compile(r"^(?:theo|nguồn)\s*:?\s+[^.,;:!?]{1,40}$", re.IGNORECASE)
_BYLINE_SPLIT_RE = re.compile(r"\s*[;|]\s*|\s+-\s+|\s*,\s*")


class NotAnArticle(PayloadError):
    """A page whose structure is a listing (section, tag or hub page), not an article."""


@dataclass(frozen=True, slots=True)
class Article:
    title: str | None
    lead: str | None
    text: str
    author: str | None
    published_at: datetime | None


def _article_header(html: str) -> str:
    """The part of the page that belongs to the article's own header: its `<article>`
    element, else what follows the first `<h1>`; empty when the page has neither."""
    if found := _ARTICLE_ELEMENT_RE.search(html):
        return found.group(1)[: _HEADER_SPAN * 2]
    if found := _H1_RE.search(html):
        return html[found.start() : found.start() + _HEADER_SPAN]
    return ""


def find_published_at(html: str) -> datetime | None:
    head = html[:200_000]
    for match in _META_DATE_RE.finditer(head):
        content = _CONTENT_RE.search(match.group(0))
        if content and (when := parse_datetime(content.group(1))):
            return when
    for pattern in (_JSONLD_DATE_RE, _PUBLISHED_TIME_RE):
        if (found := pattern.search(head)) and (when := parse_datetime(found.group(1))):
            return when
    header = _article_header(head)
    if (found := _TIME_TAG_RE.search(header)) and (when := parse_datetime(found.group(1))):
        return when
    for found in _DATE_ELEMENT_RE.finditer(header):
        if when := parse_datetime(html_to_text(found.group(1))):
            return when
    return None


def _declared_kind(html: str) -> str | None:
    """ "article" or "listing" when the page's metadata says which, else None."""
    head = html[:200_000]
    types = set(_JSONLD_TYPE_RE.findall(head))
    og = _OG_TYPE_RE.search(head)
    og_type = og.group(1).strip().lower() if og else ""
    if types & _ARTICLE_TYPES or og_type.startswith("article"):
        return "article"
    if types & _LISTING_TYPES or og_type == "website":
        return "listing"
    return None


def _squash(text: str) -> str:
    return " ".join(text.split())


def _teasers(html: str) -> list[str]:
    """The teaser blocks of a listing: for each headline link (`<h2>`–`<h4>` holding an
    `<a href>`), the smallest block around it that adds a sapo — or just its parent. Blocks
    longer than a teaser are left out: an article body with a linked subheading is not one."""
    try:
        root = lxml.html.fromstring(html[:2_000_000])
    except (ParserError, ValueError):
        return []
    blocks: dict[str, None] = {}  # the texts, in page order, once each
    for heading in root.iter("h2", "h3", "h4"):
        if heading.find(".//a[@href]") is None:
            continue
        own = len(_text_of(heading))
        block, parent = heading, heading.getparent()
        for _ in range(3):
            if parent is None:
                break
            block, parent = parent, parent.getparent()
            if len(_text_of(block)) >= own + 40:
                break
        text = _text_of(block)
        if len(text) <= _MAX_TEASER_CHARS:
            blocks[text] = None
    return list(blocks)


def _text_of(element: Any) -> str:
    return _squash(" ".join(element.itertext()))


def _listing_reason(html: str, body: str) -> str | None:
    """Why the page is a listing and not an article, or None when it is an article."""
    declared = _declared_kind(html)
    if declared == "article":
        return None
    teasers = _teasers(html)
    lines = [_squash(line) for line in body.split("\n") if len(line.strip()) >= 20]
    total = sum(len(line) for line in lines) or 1
    inside = sum(len(line) for line in lines if any(line[:40] in t for t in teasers))
    share = inside / total
    if len(teasers) >= _HUB_MIN_TEASERS and share >= _HUB_TEASER_SHARE:
        return f"{share:.0%} of its text is in {len(teasers)} teasers (headline links with sapos)"
    if declared == "listing" and len(teasers) >= 2:
        return f"its metadata says a listing, and it has {len(teasers)} teasers"
    return None


def _fold(text: str) -> str:
    """`fold` without spaces or punctuation: "Báo Dân trí" → "baodantri"."""
    return "".join(c for c in fold(text) if c.isalnum() and c.isascii())


def _site_names(html: str, url: str) -> set[str]:
    names = {_fold(label) for label in (urlsplit(url).hostname or "").split(".")[:-1]}
    names -= {"", "www", "m", "com", "net", "org", "gov", "edu", "vn"}
    if found := _SITE_NAME_RE.search(html[:200_000]):
        names.add(_fold(html_to_text(found.group(1))))
    return {n for n in names if len(n) >= 3}


def _is_site(part: str, sites: set[str]) -> bool:
    folded = _fold(part)
    bare = folded.removeprefix("bao")
    return any(
        folded == site or bare == site or (len(site) >= 5 and folded.startswith(site))
        for site in sites
    )


def clean_byline(author: str | None, sites: set[str]) -> str | None:
    """The person or people of a byline, without the site's name or a "Theo …" source."""
    if not author:
        return None
    parts = [p.strip() for p in _BYLINE_SPLIT_RE.split(clean_text(author)) if p.strip()]
    people = [p for p in parts if not _is_site(p, sites) and not _SOURCE_LINE_RE.match(p)]
    return ", ".join(dict.fromkeys(people)) or None


def _strip_byline_lines(body: str, author: str | None, sites: set[str]) -> str:
    """Drop the last lines when they are the byline, a "Theo …" source line, or the site."""
    names = {_fold(n) for n in _BYLINE_SPLIT_RE.split(author or "") if n.strip()}
    lines = body.rstrip().split("\n")
    while len(lines) > 1:
        last = lines[-1].strip().strip("*_ ")
        folded = _fold(last)
        byline_line = folded and (
            folded in names or any(folded.endswith(n) for n in names if len(n) >= 5)
        )
        if not last or (
            len(last) <= 80
            and (byline_line or _SOURCE_LINE_RE.match(last) or _is_site(last, sites))
        ):
            lines.pop()
            continue
        break
    return "\n".join(lines).strip()


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
    if reason := _listing_reason(html, body):
        raise NotAnArticle(f"{url} is a section or hub page, not an article: {reason}")
    title = clean_text(document.title or "").strip() or None
    body = _strip_header(body, title) or body
    sites = _site_names(html, url)
    raw_author = clean_text(document.author or "").strip() or None
    author = clean_byline(raw_author, sites)
    body = _strip_byline_lines(body, raw_author, sites) or body
    lead = clean_text(document.description or "").strip() or None
    if lead and (body.startswith(lead[:80]) or lead == title):
        lead = None  # the sapo is already the first paragraph
    text = f"{lead}\n\n{body}" if lead else body
    return Article(title, lead, _truncate(text), author, find_published_at(html))
