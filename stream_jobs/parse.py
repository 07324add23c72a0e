"""Stage 1: bytes from a file or topic → a validated `RawPost`, or a `RejectedRecord`.

The intake format is the `RawPost` contract, plus one convenience for partners and file
imports: an `author_handle` in clear. We classify content, not people, and no feature needs an
author, so both `author_handle` and `author_ref` are checked for shape and then dropped here: no
author reference is stored or published past this function. (Dead letters keep a record's
bytes; `redact_personal` replaces a handle there by its keyed hash first.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas import AUTHOR_REF_PATTERN, RawPost, RejectReason, pseudonymise_handle
from stream_jobs.exceptions import RejectedRecord

__all__ = [
    "PERSONAL_FIELDS",
    "ParseLimits",
    "describe_validation_error",
    "find_html",
    "parse_record",
    "redact_personal",
]

# Fields of an intake record that identify a person. Never stored, never published; in a dead
# letter's original bytes, replaced by their keyed hash.
PERSONAL_FIELDS = ("author_handle", "author_name", "author_id", "author_url")
_AUTHOR_REF = re.compile(AUTHOR_REF_PATTERN)
# A personal field's value: a JSON string, one cut off by the end of a truncated record, or a
# bare number or word.
# On bytes, so that everything around a match stays byte for byte (even invalid UTF-8).
_PERSONAL_RE = re.compile(
    rb'"(' + "|".join(PERSONAL_FIELDS).encode() + rb')"\s*:\s*'
    rb'(?:"((?:[^"\\]|\\.)*)(?:"|$)|([^\s,}\]]+))'
)

# C0 controls except tab/newline/carriage return, DEL, and C1 controls: never part of real text,
# usually a sign of a broken encoder upstream.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HTML_RE = re.compile(
    r"<\s*/?\s*(?:a|abbr|article|b|body|br|button|div|em|figure|font|form|h[1-6]|head|hr|html|"
    r"i|iframe|img|input|li|link|meta|noscript|object|embed|ol|p|script|section|source|span|"
    r"strong|style|svg|table|td|th|tr|u|ul|video)\b[^<>]*>|<!--",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_text_bytes: int = 100_000


def find_html(text: str) -> str | None:
    match = _HTML_RE.search(text)
    return match.group(0)[:60] if match else None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts[:8]) + (f"; … {len(parts) - 8} more" if len(parts) > 8 else "")


def _check_text(field: str, value: Any, limits: ParseLimits) -> None:
    if not isinstance(value, str):
        return  # the schema reports the wrong type with its own message
    if field == "text" and not value.strip():
        raise RejectedRecord(RejectReason.EMPTY_TEXT, "text is empty or only whitespace")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limits.max_text_bytes:
        raise RejectedRecord(
            RejectReason.TEXT_TOO_LARGE,
            f"{field} is {size} bytes, over the limit of {limits.max_text_bytes}",
        )
    control = _CONTROL_RE.search(value)
    if control:
        raise RejectedRecord(
            RejectReason.CONTROL_CHARACTERS,
            f"{field} contains control character U+{ord(control.group(0)):04X} "
            f"at offset {control.start()}",
        )
    html = find_html(value)
    if html:
        raise RejectedRecord(
            RejectReason.HTML_IN_TEXT,
            f"{field} contains HTML markup ({html!r}); collectors must deliver extracted text",
        )


def redact_personal(data: bytes, pseudonym_key: bytes) -> bytes:
    """The record's bytes with each personal field's value replaced by its keyed hash
    (`author_handle` becomes `author_ref`, so a replayed dead letter still parses). Works on
    broken JSON too, by pattern: a record is often dead-lettered because it does not parse."""

    def hashed(match: re.Match[bytes]) -> bytes:
        if match.group(3) == b"null":
            return match.group(0)
        field = match.group(1).decode()
        value = (match.group(2) or match.group(3) or b"?").decode("utf-8", "replace")
        ref = pseudonymise_handle(value, pseudonym_key)
        name = "author_ref" if field == "author_handle" else field
        return f'"{name}": "{ref}"'.encode()

    return _PERSONAL_RE.sub(hashed, data)


def parse_record(data: bytes, *, limits: ParseLimits) -> RawPost:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedRecord(
            RejectReason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
        ) from None
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise RejectedRecord(
            RejectReason.MALFORMED_JSON,
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    if not isinstance(obj, dict):
        raise RejectedRecord(
            RejectReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
        )
    for field in ("text", "title"):
        _check_text(field, obj.get(field), limits)
    if "author_handle" in obj or "author_ref" in obj:
        if "author_handle" in obj and "author_ref" in obj:
            raise RejectedRecord(
                RejectReason.SCHEMA_VIOLATION, "give author_handle or author_ref, not both"
            )
        handle = obj.pop("author_handle", None)
        if handle is not None and (not isinstance(handle, str) or not handle.strip()):
            raise RejectedRecord(
                RejectReason.SCHEMA_VIOLATION, "author_handle: must be a non-empty string"
            )
        # Checked (a malformed reference is a broken producer worth hearing about), then dropped.
        ref = obj.pop("author_ref", None)
        if ref is not None and (not isinstance(ref, str) or not _AUTHOR_REF.fullmatch(ref)):
            raise RejectedRecord(RejectReason.SCHEMA_VIOLATION, "author_ref: not a ph1_ reference")
        decoded = json.dumps(obj, ensure_ascii=False)
    try:
        # Validating from JSON keeps strict types but accepts ISO 8601 strings for datetimes.
        return RawPost.model_validate_json(decoded)
    except ValidationError as exc:
        raise RejectedRecord(
            RejectReason.SCHEMA_VIOLATION, describe_validation_error(exc)
        ) from None
