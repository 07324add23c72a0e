"""Helpers shared by the official-API collectors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ingest.checkpoints import Checkpoint
from ingest.collected import Collected, Rejected
from ingest.exceptions import FetchError, PayloadError, SourceConfigError
from ingest.http import FetchResult
from ingest.sources import resolve_credential
from schemas import RawPost

__all__ = [
    "accept_item",
    "as_count",
    "credential_or_fail",
    "error_envelope",
    "fetch_json",
    "from_unix",
    "json_object",
    "reject_item",
]


def credential_or_fail(reference: str, out: Collected) -> str | None:
    try:
        return resolve_credential(reference)
    except SourceConfigError as exc:
        out.fail("credentials", str(exc))
        return None


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object, or `PayloadError` (truncated, HTML error page, wrong shape)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{what}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def error_envelope(body: bytes) -> dict[str, Any]:
    """The `error` object APIs send with a 4xx, or `{}` if there is none to read."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = value.get("error") if isinstance(value, dict) else None
    return error if isinstance(error, dict) else {}


def as_count(value: Any) -> int | None:
    """Counters arrive as ints (Graph, TikTok) or strings (YouTube); anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def from_unix(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def reject_item(out: Collected, item: Any, reason: str, detail: str) -> None:
    external_id = item.get("id") if isinstance(item, dict) else None
    out.reject(Rejected(str(external_id) if external_id else None, reason, detail, item))


async def fetch_json(
    out: Collected,
    what: str,
    request: Awaitable[FetchResult],
    reason: Callable[[FetchError], str],
    not_failures: Collection[str] = (),
) -> tuple[FetchResult, dict[str, Any]] | None:
    """Await one API call and read its JSON object; on failure record why (`reason` maps the
    platform's error envelope to our reason codes) and return None. Reasons in `not_failures`
    (e.g. comments turned off on a video) return None without failing the round."""
    try:
        page = await request
        return page, json_object(page.body, what)
    except FetchError as exc:
        code = reason(exc)
        if code not in not_failures:
            out.fail(code, f"{what}: {exc}")
    except PayloadError as exc:
        out.fail("malformed_response", str(exc))
    return None


def accept_item(
    out: Collected,
    checkpoint: Checkpoint,
    item: Any,
    external_id: Any,
    build: Callable[[], RawPost],
) -> bool:
    """Count an API item and turn it into a post unless it was seen (now or in an earlier
    round), has no usable id, or does not make a valid post (no text: `no_text`)."""
    out.fetched += 1
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id:
        reject_item(out, item, "malformed_item", "no id")
        return False
    if checkpoint.has_seen(external_id) or any(p.external_id == external_id for p in out.posts):
        out.duplicates += 1
        return False
    try:
        out.posts.append(build())
    except (KeyError, TypeError, AttributeError) as exc:
        reject_item(out, item, "malformed_item", f"unexpected shape: {exc!r}")
        return False
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        reason = "no_text" if first["loc"] == ("text",) else "invalid_post"
        reject_item(out, item, reason, str(first["msg"]))
        return False
    return True
