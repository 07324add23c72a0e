"""A YouTube channel's uploads and their comment threads, through the YouTube Data API v3.

Quota is the constraint: every list call costs 1 unit of the project's daily 10,000, so we read
the uploads playlist (1 unit per 50 videos) instead of `search` (100 units), and count what we
spend in the checkpoint. The uploads playlist id is derived from the channel id (UC… → UU…),
which saves the `channels.list` call each round.
"""

from __future__ import annotations

from datetime import datetime
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
    reject_item,
)
from ingest.sources import YouTubeChannelSource
from schemas import Engagement, Platform, PostKind, RawPost

__all__ = ["collect_youtube_channel", "youtube_error_reason"]

_QUOTA_REASONS = frozenset(
    {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"}
)


def youtube_error_reason(exc: FetchError) -> str:
    errors = error_envelope(exc.body).get("errors") or [{}]
    reason = errors[0].get("reason") if isinstance(errors[0], dict) else None
    if reason in _QUOTA_REASONS or exc.status == 429:
        return "rate_limited"
    if reason == "commentsDisabled":
        return "comments_disabled"
    if exc.status in (400, 401) and reason in ("keyInvalid", "badRequest", "authError"):
        return "auth"
    return exc.reason


class _Api:
    def __init__(
        self,
        source: YouTubeChannelSource,
        ctx: CollectContext,
        key: str,
        checkpoint: Checkpoint,
        out: Collected,
    ) -> None:
        self.source, self.ctx, self.key, self.out = source, ctx, key, out
        self.budget = source.daily_quota_units - checkpoint.quota_spent(
            ctx.clock().date().isoformat()
        )

    async def list(self, resource: str, params: dict[str, str]) -> dict[str, Any] | None:
        """One `*.list` call (1 unit); `None` after recording why it failed."""
        if self.out.quota_units + 1 > self.budget:
            self.out.fail("rate_limited", "daily YouTube quota for this source is spent")
            return None
        self.out.quota_units += 1
        request = self.ctx.fetcher.get(
            f"{self.source.api_base.rstrip('/')}/{resource}",
            params=dict(params, key=self.key),
            robots=False,
            rate_per_s=self.source.rate_per_s,
        )
        answer = await fetch_json(
            self.out, f"YouTube {resource}", request, youtube_error_reason,
            not_failures=("comments_disabled",),
        )  # fmt: skip
        return answer[1] if answer else None


def _video_post(
    source: YouTubeChannelSource, ctx: CollectContext, video: dict[str, Any]
) -> RawPost:
    snippet = video.get("snippet") or {}
    stats = video.get("statistics") or {}
    title = (snippet.get("title") or "").strip()
    description = (snippet.get("description") or "").strip()
    return RawPost(
        platform=Platform.YOUTUBE,
        source_id=source.name,
        external_id=video["id"],
        url=f"https://www.youtube.com/watch?v={video['id']}",
        kind=PostKind.VIDEO,
        title=title[:2000] or None,
        text=f"{title}\n\n{description}".strip(),
        published_at=parse_datetime(snippet.get("publishedAt")),
        collected_at=ctx.clock(),
        engagement=Engagement(
            likes=as_count(stats.get("likeCount")),
            comments=as_count(stats.get("commentCount")),
            views=as_count(stats.get("viewCount")),
        ),
        raw_ref=f"youtube:video:{video['id']}",
    )


def _comment_post(
    source: YouTubeChannelSource, ctx: CollectContext, thread: dict[str, Any], video_id: str
) -> RawPost:
    top = thread["snippet"]["topLevelComment"]
    snippet = top["snippet"]
    return RawPost(
        platform=Platform.YOUTUBE,
        source_id=source.name,
        external_id=top["id"],
        url=f"https://www.youtube.com/watch?v={video_id}&lc={top['id']}",
        kind=PostKind.COMMENT,
        parent_external_id=video_id,
        text=snippet.get("textOriginal") or snippet.get("textDisplay") or "",
        published_at=parse_datetime(snippet.get("publishedAt")),
        collected_at=ctx.clock(),
        engagement=Engagement(
            likes=as_count(snippet.get("likeCount")),
            comments=as_count(thread["snippet"].get("totalReplyCount")),
        ),
        raw_ref=f"youtube:comment:{top['id']}",
    )


async def _upload_ids(
    api: _Api, checkpoint: Checkpoint, limit: int
) -> tuple[list[str], datetime | None]:
    """Newest uploads not older than the cursor; the newest publication time seen."""
    playlist = "UU" + api.source.channel_id[2:]
    since = parse_datetime(checkpoint.cursor) if checkpoint.cursor else None
    ids: list[str] = []
    newest = since
    token: str | None = None
    while len(ids) < limit:
        params = {"part": "contentDetails", "playlistId": playlist, "maxResults": "50"}
        if token:
            params["pageToken"] = token
        body = await api.list("playlistItems", params)
        if body is None:
            break
        items = body.get("items")
        if not isinstance(items, list):
            api.out.fail("malformed_response", "YouTube playlistItems: no `items` list")
            break
        reached_cursor = False
        for item in items:
            details = item.get("contentDetails") if isinstance(item, dict) else None
            video_id = details.get("videoId") if isinstance(details, dict) else None
            published = parse_datetime(details.get("videoPublishedAt")) if details else None
            if not isinstance(video_id, str):
                api.out.fetched += 1
                reject_item(api.out, item, "malformed_item", "playlist item without a videoId")
                continue
            if since is not None and published is not None and published < since:
                reached_cursor = True
                continue
            ids.append(video_id)
            if published is not None:
                newest = max(newest, published) if newest else published
        token = body.get("nextPageToken")
        if reached_cursor or not token:
            break
    return ids[:limit], newest


async def collect_youtube_channel(
    source: YouTubeChannelSource, ctx: CollectContext, checkpoint: Checkpoint
) -> Collected:
    out = Collected(source.name)
    key = credential_or_fail(source.credentials, out)
    if key is None:
        return out
    api = _Api(source, ctx, key, checkpoint, out)
    ids, newest = await _upload_ids(api, checkpoint, source.max_items)
    videos: list[dict[str, Any]] = []
    for start in range(0, len(ids), 50):
        body = await api.list(
            "videos", {"part": "snippet,statistics", "id": ",".join(ids[start : start + 50])}
        )
        if body is None:
            break
        videos.extend(v for v in body.get("items") or [] if isinstance(v, dict))
    for video in videos:
        accept_item(
            out, checkpoint, video, video.get("id"), partial(_video_post, source, ctx, video)
        )
    if source.include_comments and source.max_comments:
        for video_id in ids:
            if not out.complete:
                break
            await _comments(api, checkpoint, video_id)
    out.cursor = newest.isoformat() if newest else None
    return out


async def _comments(api: _Api, checkpoint: Checkpoint, video_id: str) -> None:
    taken = 0
    token: str | None = None
    while taken < api.source.max_comments:
        params = {
            "part": "snippet",
            "videoId": video_id,
            "order": "time",
            "textFormat": "plainText",
            "maxResults": "100",
        }
        if token:
            params["pageToken"] = token
        body = await api.list("commentThreads", params)
        if body is None:
            return
        items = [t for t in body.get("items") or [] if isinstance(t, dict)]
        fresh = 0
        for thread in items[: api.source.max_comments - taken]:
            comment_id = (thread.get("snippet") or {}).get("topLevelComment", {}).get("id")
            before = len(api.out.posts)
            accept_item(
                api.out,
                checkpoint,
                thread,
                comment_id,
                partial(_comment_post, api.source, api.ctx, thread, video_id),
            )
            fresh += len(api.out.posts) - before
            taken += 1
        token = body.get("nextPageToken")
        if not token or fresh == 0:  # newest first: a page of known comments means we are done
            return
