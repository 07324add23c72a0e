"""Videos matching keywords in given regions, and their comments, through the TikTok Research
API (approved research clients only; client-credentials token).

The API takes a query in the body and pages with `cursor` + `search_id`; a query spans at most
30 days. Every call counts against a daily request cap (1,000 by default), tracked in the
checkpoint. Errors arrive as `{"error": {"code": "rate_limit_exceeded", …}}`, often with 429.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial
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
    from_unix,
)
from ingest.sources import TikTokQuerySource
from schemas import Engagement, Platform, PostKind, RawPost

__all__ = ["collect_tiktok_query", "tiktok_error_reason"]

VIDEO_FIELDS = (
    "id,video_description,create_time,region_code,like_count,comment_count,share_count,"
    "view_count,username"
)
COMMENT_FIELDS = "id,video_id,text,like_count,reply_count,parent_comment_id,create_time"
_PAGE = 100


def tiktok_error_reason(exc: FetchError) -> str:
    code = error_envelope(exc.body).get("code")
    if code in ("rate_limit_exceeded", "daily_quota_limit_exceeded") or exc.status == 429:
        return "rate_limited"
    if (
        code in ("access_token_invalid", "scope_not_authorized", "invalid_client")
        or exc.status == 401
    ):
        return "auth"
    return exc.reason


class _Api:
    def __init__(
        self, source: TikTokQuerySource, ctx: CollectContext, checkpoint: Checkpoint, out: Collected
    ) -> None:
        self.source, self.ctx, self.out = source, ctx, out
        self.base = source.api_base.rstrip("/")
        self.budget = source.daily_requests - checkpoint.quota_spent(ctx.clock().date().isoformat())
        self.token = ""

    def _spend(self) -> bool:
        if self.out.quota_units + 1 > self.budget:
            self.out.fail("rate_limited", "daily TikTok request cap for this source is spent")
            return False
        self.out.quota_units += 1
        return True

    async def authenticate(self, credential: str) -> bool:
        cached = self.ctx.token_cache.get(credential)
        if cached and cached[0] > time.monotonic():
            self.token = cached[1]
            return True
        key, sep, secret = credential.partition(":")
        if not sep or not key or not secret:
            self.out.fail("credentials", "TikTok credential must be `client_key:client_secret`")
            return False
        if not self._spend():
            return False
        request = self.ctx.fetcher.post(
            f"{self.base}/v2/oauth/token/",
            form={"client_key": key, "client_secret": secret, "grant_type": "client_credentials"},
        )
        answer = await fetch_json(self.out, "TikTok token", request, tiktok_error_reason)
        if answer is None:
            return False
        body = answer[1]
        token, expires = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            self.out.fail("auth", f"TikTok token: no access_token ({body.get('error')})")
            return False
        lifetime = float(expires) if isinstance(expires, int | float) else 3600.0
        self.ctx.token_cache[credential] = (time.monotonic() + max(0.0, lifetime - 60), token)
        self.token = token
        return True

    async def query(self, path: str, fields: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if not self._spend():
            return None
        request = self.ctx.fetcher.post(
            f"{self.base}{path}",
            json=payload,
            params={"fields": fields},
            headers={"Authorization": f"Bearer {self.token}"},
            rate_per_s=self.source.rate_per_s,
        )
        answer = await fetch_json(self.out, f"TikTok {path}", request, tiktok_error_reason)
        if answer is None:
            return None
        body = answer[1]
        error = body.get("error") or {}
        if isinstance(error, dict) and error.get("code") not in (None, "ok"):
            self.out.fail(
                "api_error", f"TikTok {path}: {error.get('code')}: {error.get('message')}"
            )
            return None
        data = body.get("data")
        if not isinstance(data, dict):
            self.out.fail("malformed_response", f"TikTok {path}: no `data` object")
            return None
        return data


def _video_url(video: dict[str, Any]) -> str:
    user = video.get("username")
    prefix = (
        f"https://www.tiktok.com/@{user}"
        if isinstance(user, str) and user
        else "https://www.tiktok.com/@"
    )
    return f"{prefix}/video/{video['id']}"


def _video_post(source: TikTokQuerySource, ctx: CollectContext, video: dict[str, Any]) -> RawPost:
    return RawPost(
        platform=Platform.TIKTOK,
        source_id=source.name,
        external_id=str(video["id"]),
        url=_video_url(video),
        kind=PostKind.VIDEO,
        text=video.get("video_description") or "",
        published_at=from_unix(video.get("create_time")),
        collected_at=ctx.clock(),
        engagement=Engagement(
            likes=as_count(video.get("like_count")),
            comments=as_count(video.get("comment_count")),
            shares=as_count(video.get("share_count")),
            views=as_count(video.get("view_count")),
        ),
        raw_ref=f"tiktok:video:{video['id']}",
    )


def _comment_post(
    source: TikTokQuerySource, ctx: CollectContext, comment: dict[str, Any], video: dict[str, Any]
) -> RawPost:
    return RawPost(
        platform=Platform.TIKTOK,
        source_id=source.name,
        external_id=str(comment["id"]),
        url=_video_url(video),  # comments have no URL of their own
        kind=PostKind.COMMENT,
        parent_external_id=str(video["id"]),
        text=comment.get("text") or "",
        published_at=from_unix(comment.get("create_time")),
        collected_at=ctx.clock(),
        engagement=Engagement(
            likes=as_count(comment.get("like_count")), comments=as_count(comment.get("reply_count"))
        ),
        raw_ref=f"tiktok:comment:{comment['id']}",
    )


async def collect_tiktok_query(
    source: TikTokQuerySource, ctx: CollectContext, checkpoint: Checkpoint
) -> Collected:
    out = Collected(source.name)
    credential = credential_or_fail(source.credentials, out)
    api = _Api(source, ctx, checkpoint, out)
    if credential is None or not await api.authenticate(credential):
        return out
    today = ctx.clock()
    since = parse_datetime(checkpoint.cursor) if checkpoint.cursor else None
    start = max(
        today - timedelta(days=source.lookback_days),
        since or datetime.min.replace(tzinfo=today.tzinfo),
    )
    payload: dict[str, Any] = {
        "query": {
            "and": [
                {
                    "operation": "IN",
                    "field_name": "region_code",
                    "field_values": list(source.region_codes),
                },
                {"operation": "IN", "field_name": "keyword", "field_values": list(source.keywords)},
            ]
        },
        "start_date": start.strftime("%Y%m%d"),
        "end_date": today.strftime("%Y%m%d"),
        "max_count": _PAGE,
        "cursor": 0,
    }
    videos: list[dict[str, Any]] = []
    while len(videos) < source.max_items:
        data = await api.query("/v2/research/video/query/", VIDEO_FIELDS, payload)
        if data is None:
            break
        page = data.get("videos")
        if not isinstance(page, list):
            out.fail("malformed_response", "TikTok video query: no `videos` list")
            break
        for video in page:
            video_id = video.get("id") if isinstance(video, dict) else None
            if accept_item(
                out, checkpoint, video, video_id, partial(_video_post, source, ctx, video)
            ):
                videos.append(video)
        if not data.get("has_more") or not isinstance(data.get("cursor"), int):
            break
        payload = dict(payload, cursor=data["cursor"], search_id=data.get("search_id"))
    if source.include_comments and source.max_comments:
        for video in videos:
            if not out.complete:
                break
            data = await api.query(
                "/v2/research/video/comment/list/",
                COMMENT_FIELDS,
                {
                    "video_id": int(video["id"]) if str(video["id"]).isdigit() else video["id"],
                    "max_count": min(_PAGE, source.max_comments),
                    "cursor": 0,
                },
            )
            for comment in (data or {}).get("comments") or []:
                accept_item(
                    out,
                    checkpoint,
                    comment,
                    comment.get("id") if isinstance(comment, dict) else None,
                    partial(_comment_post, source, ctx, comment, video),
                )
    # The query is by day: the cursor is "today", re-read with the seen ids guarding repeats.
    out.cursor = today.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    return out
