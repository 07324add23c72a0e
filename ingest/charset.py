"""Bytes → text for fetched pages and feeds: the declared charset if it works, else a detected
one.

Some Vietnamese sites still serve Windows-1258 or mislabel UTF-8; a wrong guess turns every
diacritic into mojibake, which would then be classified. Order: HTTP header, `<meta charset>`
or XML declaration, UTF-8 if it decodes cleanly, then charset-normalizer's best guess. One
exception: a declared *single-byte* charset decodes any bytes at all, so it cannot be wrong by
failing; bytes with non-ASCII sequences that are valid UTF-8 are UTF-8 mislabelled (text in a
single-byte charset almost never forms valid multi-byte UTF-8), and UTF-8 wins, with a warning.
"""

from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes

__all__ = ["declared_charset", "decode_body"]

log = logging.getLogger(__name__)

_HEADER_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_META_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""",
    re.IGNORECASE,
)


def _known(name: str | bytes | None) -> str | None:
    if not name:
        return None
    text = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        return codecs.lookup(text).name
    except LookupError:
        return None


def declared_charset(body: bytes, content_type: str | None) -> str | None:
    header = _HEADER_RE.search(content_type) if content_type else None
    if header and (found := _known(header.group(1))):
        return found
    if meta := _META_RE.search(body[:4096]):
        return _known(meta.group(1) or meta.group(2))
    return None


def decode_body(body: bytes, content_type: str | None) -> str:
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    declared = declared_charset(body, content_type)
    if declared and _single_byte(declared) and not body.isascii():
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            log.warning(
                "declared charset overridden", extra={"declared": declared, "used": "utf-8"}
            )
            return text
    if declared:
        try:
            return body.decode(declared)
        except UnicodeDecodeError:
            pass  # mislabelled: fall through to detection
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(body[:200_000]).best()
    encoding = best.encoding if best is not None else "utf-8"
    return body.decode(encoding, "replace")


def _single_byte(encoding: str) -> bool:
    """Whether every byte is one character in `encoding` (cp1258, latin-1, koi8-r, …)."""
    try:
        high = bytes(range(128, 256)).decode(encoding, "replace")
        pair = b"\xc3\xa0".decode(encoding, "replace")  # "à" in UTF-8: one character there
    except LookupError:
        return False
    return len(high) == 128 and len(pair) == 2
