"""Public posts of a Facebook Page and their comments, through the Graph API.

Only what the Page publishes publicly and the Graph API returns to an app with Page Public
Content Access: no personal profiles, groups or messages. Pages are walked newest first with
cursor pagination (`paging.cursors.after`, never the `next` URL, which carries the token) and
stop at the checkpoint's `since`. Rate limits: Graph answers 4/17/32/613 errors, and reports
usage in `X-App-Usage`/`X-Business-Use-Case-Usage`; over 90 % we stop the round early.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ingest.checkpoints import Checkpoint
from ingest.collected import CollectContext, Collected
from ingest.dates import parse_datetime
from ingest.exceptions import FetchError
from ingest.social._common import (
    accept_item,
    as_count,
    credential_or_fail,
    error_envelope,
    fetch_json,
)
from ingest.sources import FacebookPageSource
from schemas import Engagement, Platform, PostKind, RawPost

__all__ = ["collect_facebook_page", "graph_error_reason", "usage_percent"]

POST_FIELDS = (
    "id,message,created_time,permalink_url,shares,"
    "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
COMMENT_FIELDS = "id,message,created_time,permalink_url,like_count,comment_count,from{id}"
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80004})
_AUTH_CODES = frozenset({102, 190})
_PAGE_SIZE = 100
# Comments keep arriving for a day or two after a post; older posts are not revisited.
_COMMENT_WINDOW = timedelta(days=2)
# Re-read a little before the cursor: Graph's `since` is by creation time, at second precision.
_OVERLAP = timedelta(minutes=10)


def graph_error_reason(exc: FetchError) -> str:
    error = error_envelope(exc.body)
    code = error.get("code")
    if code in _RATE_LIMIT_CODES or exc.status == 429:
        return "rate_limited"
    if code in _AUTH_CODES or exc.status == 401:
        return "auth"
    if code in (10, 200) or str(code).startswith("2"):
        return "permission"
    return exc.reason


def usage_percent(headers: dict[str, str] | Any) -> float:
    """The highest percentage in Graph's usage headers (0 if absent or unreadable)."""
    highest = 0.0
    for name in ("x-app-usage", "x-page-usage", "x-business-use-case-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                highest = max(highest, float(item))
    return highest


async def _graph_get(
    source: FacebookPageSource,
    ctx: CollectContext,
    out: Collected,
    path: str,
    params: dict[str, str],
    token: str,
) -> dict[str, Any] | None:
    url = f"{source.api_base.rstrip('/')}/{source.api_version}/{path}"
    out.quota_units += 1
    request = ctx.fetcher.get(
        url,
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        robots=False,
        rate_per_s=source.rate_per_s,
    )
    answer = await fetch_json(out, f"Graph {path}", request, graph_error_reason)
    if answer is None:
        return None
    page, body = answer
    if "error" in body:
        out.fail("api_error", f"Graph {path}: {body['error']}")
        return None
    if usage_percent(page.headers) >= 90:
        out.fail("rate_limited", f"Graph usage at {usage_percent(page.headers):.0f} %: pausing")
    return body


def _post_from(
    source: FacebookPageSource, ctx: CollectContext, item: dict[str, Any], *, parent: str | None
) -> RawPost:
    created = parse_datetime(item.get("created_time"))
    if parent is None:
        engagement = Engagement(
            likes=as_count(item.get("reactions", {}).get("summary", {}).get("total_count")),
            comments=as_count(item.get("comments", {}).get("summary", {}).get("total_count")),
            shares=as_count(item.get("shares", {}).get("count")),
        )
    else:
        engagement = Engagement(
            likes=as_count(item.get("like_count")), comments=as_count(item.get("comment_count"))
        )
    url = item.get("permalink_url") or f"https://www.facebook.com/{item['id']}"
    return RawPost(
        platform=Platform.FACEBOOK,
        source_id=source.name,
        external_id=str(item["id"]),
        url=url,
        kind=PostKind.COMMENT if parent else PostKind.POST,
        parent_external_id=parent,
        text=item.get("message") or "",
        published_at=created,
        collected_at=ctx.clock(),
        engagement=engagement,
        raw_ref=f"graph:{item['id']}",
    )


def _take(
    source: FacebookPageSource,
    ctx: CollectContext,
    out: Collected,
    checkpoint: Checkpoint,
    item: Any,
    parent: str | None,
) -> None:
    external_id = item.get("id") if isinstance(item, dict) else None
    accept_item(
        out, checkpoint, item, external_id, lambda: _post_from(source, ctx, item, parent=parent)
    )


async def _pages(
    source: FacebookPageSource,
    ctx: CollectContext,
    out: Collected,
    path: str,
    params: dict[str, str],
    token: str,
    limit: int,
) -> list[Any]:
    """Items of successive pages, until `limit`, the last page or a failure."""
    items: list[Any] = []
    after: str | None = None
    while len(items) < limit:
        page_params = dict(params, limit=str(min(_PAGE_SIZE, limit - len(items))))
        if after:
            page_params["after"] = after
        body = await _graph_get(source, ctx, out, path, page_params, token)
        if body is None:
            break
        data = body.get("data")
        if not isinstance(data, list):
            out.fail("malformed_response", f"Graph {path}: no `data` list")
            break
        items.extend(data)
        cursors = (
            body.get("paging", {}).get("cursors", {})
            if isinstance(body.get("paging"), dict)
            else {}
        )
        after = cursors.get("after") if body.get("paging", {}).get("next") else None
        if not after or not data or not out.complete:
            break
    return items[:limit]


async def collect_facebook_page(
    source: FacebookPageSource, ctx: CollectContext, checkpoint: Checkpoint
) -> Collected:
    out = Collected(source.name)
    token = credential_or_fail(source.credentials, out)
    if token is None:
        return out
    params = {"fields": POST_FIELDS}
    since = parse_datetime(checkpoint.cursor) if checkpoint.cursor else None
    if since is not None:
        params["since"] = str(int((since - _OVERLAP).timestamp()))
    posts = await _pages(
        source, ctx, out, f"{source.page_id}/posts", params, token, source.max_items
    )
    newest: datetime | None = since
    recent_ids: list[str] = []
    for item in posts:
        _take(source, ctx, out, checkpoint, item, None)
        created = parse_datetime(item.get("created_time")) if isinstance(item, dict) else None
        if created is not None:
            newest = max(newest, created) if newest else created
            if created >= ctx.clock() - _COMMENT_WINDOW and isinstance(item.get("id"), str):
                recent_ids.append(item["id"])
    if source.include_comments and source.max_comments:
        for post_id in dict.fromkeys(recent_ids):  # a post repeated across pages: once
            if not out.complete:
                break  # rate limited or failing: the next round tries again
            comments = await _pages(
                source,
                ctx,
                out,
                f"{post_id}/comments",
                {"fields": COMMENT_FIELDS, "filter": "stream", "order": "reverse_chronological"},
                token,
                source.max_comments,
            )
            for item in comments:
                _take(source, ctx, out, checkpoint, item, post_id)
    out.cursor = newest.isoformat() if newest else None
    return out
