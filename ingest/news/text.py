"""Small text helpers shared by the news readers."""

from __future__ import annotations

import re
import unicodedata

import lxml.html
from lxml.etree import ParserError

__all__ = ["clean_text", "html_to_text"]

# Controls the pipeline would reject (a sign of a broken page, not of content): dropped here.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES_RE = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", _CONTROL_RE.sub("", text))
    text = _SPACES_RE.sub(" ", text)
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(line.strip() for line in text.splitlines()))


def html_to_text(fragment: str) -> str:
    """A feed summary or title (which may be HTML) as plain text."""
    if "<" not in fragment and "&" not in fragment:
        return clean_text(fragment).strip()
    try:
        text = lxml.html.fromstring(f"<div>{fragment}</div>").text_content()
    except (ParserError, ValueError):
        text = re.sub(r"<[^>]*>", " ", fragment)
    return clean_text(text).strip()
