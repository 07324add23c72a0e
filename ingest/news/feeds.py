"""RSS and Atom feeds → entries (feedparser reads both, and most broken feeds).

The bytes are decoded by our own charset rules first (`ingest.charset`, as pages are) and handed
to feedparser as UTF-8: feedparser's own fallback reads an undeclared Windows-1258 feed as
Windows-1252 and garbles every diacritic, silently. Entries without a usable link are returned
apart (`Feed.unlinked`), for the collector to record; they are never dropped unseen."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.canonical import canonical_url
from ingest.charset import decode_body
from ingest.dates import parse_datetime
from ingest.exceptions import PayloadError
from ingest.news.text import clean_text, html_to_text

__all__ = ["Feed", "FeedEntry", "parse_feed"]

_XML_ENCODING_RE = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")
# An entity left in text already decoded once: escaped twice by the publisher (inside CDATA,
# where XML does not decode it, "&amp;apos;" is still "&apos;" after the HTML pass).
_LEFTOVER_ENTITY_RE = re.compile(r"&(?:#\d{2,7}|#x[0-9a-fA-F]{2,6}|[a-zA-Z]{2,8});")
# The root element: the first start tag after the prolog, comments and doctype.
_ROOT_RE = re.compile(r"<([A-Za-z_][\w.:-]*)[\s>/]")
_PROLOG_RE = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    url: str  # canonical
    title: str | None
    summary: str | None
    published_at: datetime | None
    author: str | None


@dataclass(frozen=True, slots=True)
class Feed:
    entries: list[FeedEntry]
    unlinked: list[str] = field(default_factory=list)  # titles of entries without a link
    # The document stops before its root element closes: the items read are only some.
    truncated: bool = False


def _published(entry: Any) -> datetime | None:
    for key in ("published", "updated", "created"):
        raw = entry.get(key)
        if raw and (parsed := parse_datetime(raw)):
            return parsed
    # feedparser's own parse of formats we do not read (struct_time, UTC)
    for key in ("published_parsed", "updated_parsed"):
        struct = entry.get(key)
        if struct:
            year, month, day, hour, minute, second = struct[:6]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return None


def _text(entry: Any, key: str) -> str | None:
    """A title or summary as plain text: HTML ones are stripped of markup, plain ones kept as
    they are ("Giá xăng <tăng>" is a title, not a tag)."""
    value = entry.get(key) or ""
    detail = entry.get(f"{key}_detail") or {}
    plain = detail.get("type") == "text/plain"
    text = clean_text(value).strip() if plain else html_to_text(value)
    if _LEFTOVER_ENTITY_RE.search(text):
        text = html.unescape(text)
    return text or None


def _is_truncated(text: str) -> bool:
    """True when the root element never closes (a generator that died, a cut-off cache)."""
    position = 0
    while found := _PROLOG_RE.match(text, position):
        if found.end() == position:
            break
        position = found.end()
    root = _ROOT_RE.match(text, position) or _ROOT_RE.search(text, position)
    if root is None:
        return False
    return not text.rstrip().endswith(f"</{root.group(1)}>")


def _as_utf8(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The feed re-encoded as UTF-8 and declared so, after our own charset decision."""
    content_type = headers.get("content-type") or headers.get("Content-Type")
    text = decode_body(body, content_type)
    text = _XML_ENCODING_RE.sub(r"\1", text, count=1)
    media = (content_type or "application/xml").split(";")[0].strip()
    rest = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return text.encode("utf-8"), {**rest, "content-type": f"{media}; charset=utf-8"}


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None) -> Feed:
    """Entries with a usable link, and the titles of those without. A feed that is broken
    beyond reading raises `PayloadError`; one that is merely sloppy (feedparser's `bozo`) is
    read for what it has, and one cut off before its end says so (`Feed.truncated`)."""
    utf8, declared = _as_utf8(body, headers or {})
    parsed = feedparser.parse(utf8, response_headers=declared)
    truncated = _is_truncated(utf8.decode("utf-8"))
    if parsed.get("bozo") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise PayloadError(f"unreadable feed: {problem or 'no entries'}")
    if not parsed.entries and not parsed.get("version"):
        raise PayloadError("not a feed: neither RSS nor Atom")
    entries, unlinked = [], []
    for entry in parsed.entries:
        link = entry.get("link") or entry.get("id")
        try:
            url = canonical_url(link) if link else None
        except ValueError:
            url = None
        if url is None:  # an entry with no link cannot be evidence: not collectable
            unlinked.append(_text(entry, "title") or "(no title)")
            continue
        entries.append(
            FeedEntry(
                url=url,
                title=_text(entry, "title"),
                summary=_text(entry, "summary"),
                published_at=_published(entry),
                author=(entry.get("author") or "").strip() or None,
            )
        )
    if parsed.get("bozo") and not entries:
        raise PayloadError(
            f"unreadable feed: {parsed.get('bozo_exception') or 'no usable entries'}"
        )
    return Feed(entries, unlinked, truncated)
