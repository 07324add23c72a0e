"""Bytes → text for fetched pages: the declared charset if it works, else a detected one.

Some Vietnamese sites still serve Windows-1258 or mislabel UTF-8; a wrong guess turns every
diacritic into mojibake, which would then be classified. Order: HTTP header, `<meta charset>`
or XML declaration, UTF-8 if it decodes cleanly, then charset-normalizer's best guess.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

__all__ = ["declared_charset", "decode_body"]

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
