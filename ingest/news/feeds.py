"""RSS and Atom feeds → entries (feedparser reads both, and most broken feeds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.canonical import canonical_url
from ingest.dates import parse_datetime
from ingest.exceptions import PayloadError
from ingest.news.text import clean_text, html_to_text

__all__ = ["FeedEntry", "parse_feed"]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    url: str  # canonical
    title: str | None
    summary: str | None
    published_at: datetime | None
    author: str | None


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
    if detail.get("type") == "text/plain":
        return clean_text(value).strip() or None
    return html_to_text(value) or None


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None) -> list[FeedEntry]:
    """Entries with a usable link. A feed that is broken beyond reading raises `PayloadError`;
    one that is merely sloppy (feedparser's `bozo`) is read for what it has."""
    parsed = feedparser.parse(body, response_headers=dict(headers or {}))
    if parsed.get("bozo") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise PayloadError(f"unreadable feed: {problem or 'no entries'}")
    if not parsed.entries and not parsed.get("version"):
        raise PayloadError("not a feed: neither RSS nor Atom")
    entries = []
    for entry in parsed.entries:
        link = entry.get("link") or entry.get("id")
        try:
            url = canonical_url(link) if link else None
        except ValueError:
            url = None
        if url is None:
            continue  # an entry with no link cannot be evidence: not collectable
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
    return entries
