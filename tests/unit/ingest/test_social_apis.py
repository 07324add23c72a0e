"""Official-API collectors over canned responses in each API's documented shape: pagination,
field mapping, pseudonymised authors, error envelopes, quota accounting, malformed items."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ingest.checkpoints import Checkpoint
from ingest.social.facebook import collect_facebook_page, usage_percent
from ingest.social.tiktok import collect_tiktok_query
from ingest.social.youtube import collect_youtube_channel
from ingest.sources import FacebookPageSource, TikTokQuerySource, YouTubeChannelSource
from schemas import PostKind
from tests.unit.ingest.helpers import NOW, context, json_response, run

FB = FacebookPageSource(
    name="fb",
    type="facebook_page",
    page_id="1234",
    credentials="env:FB_T",
    api_base="https://graph.test",
)
YT = YouTubeChannelSource(
    name="yt",
    type="youtube_channel",
    channel_id="UC" + "a" * 22,
    credentials="env:YT_T",
    api_base="https://yt.test/youtube/v3",
    daily_quota_units=50,
)
TT = TikTokQuerySource(
    name="tt",
    type="tiktok_query",
    keywords=("lừa đảo",),
    credentials="env:TT_T",
    api_base="https://tt.test",
)


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FB_T", "fb-token")
    monkeypatch.setenv("YT_T", "yt-key")
    monkeypatch.setenv("TT_T", "client-key:client-secret")


def fb_post(i: int, message: str | None = "Bài đăng {i}", hours_ago: int = 1) -> dict[str, Any]:
    return {
        "id": f"1234_{i}",
        "created_time": f"2026-11-29T0{8 - hours_ago}:00:00+0000",
        **({"message": message.format(i=i)} if message else {}),
        "permalink_url": f"https://www.facebook.com/1234/posts/{i}",
        "shares": {"count": i},
        "reactions": {"data": [], "summary": {"total_count": 10 + i}},
        "comments": {"data": [], "summary": {"total_count": 2}},
    }


def test_facebook_pages_posts_and_comments() -> None:
    seen: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path, after = request.url.path, request.url.params.get("after")
        if path == "/v21.0/1234/posts" and after is None:
            return json_response(
                {
                    "data": [fb_post(1), fb_post(2, message=None)],
                    "paging": {
                        "cursors": {"after": "C1"},
                        "next": "https://graph.test/next?access_token=fb-token",
                    },
                }
            )
        if path == "/v21.0/1234/posts":
            return json_response(
                {
                    "data": [fb_post(3), fb_post(1), {"message": "no id"}],
                    "paging": {"cursors": {"before": "C1"}},
                }
            )
        if path.endswith("/comments"):
            post_id = path.split("/")[2]
            return json_response(
                {
                    "data": [
                        {
                            "id": f"{post_id}_c1",
                            "message": "ngu như bò",
                            "created_time": "2026-11-29T07:30:00+0000",
                            "from": {"id": "999", "name": "Nguyễn Văn A"},
                            "like_count": 3,
                        }
                    ]
                }
            )
        return httpx.Response(404)

    out = run(collect_facebook_page(FB, context(graph), Checkpoint()))
    assert out.complete, out.failures
    posts = {p.external_id: p for p in out.posts}
    assert set(posts) == {"1234_1", "1234_3", "1234_1_c1", "1234_3_c1", "1234_2_c1"}
    assert out.duplicates == 1
    assert {r.reason for r in out.rejected} == {"no_text", "malformed_item"}
    comment = posts["1234_1_c1"]
    assert comment.kind is PostKind.COMMENT
    assert comment.parent_external_id == "1234_1"
    assert comment.author_ref is None  # no author reference is collected at all
    assert "Nguyễn" not in comment.model_dump_json()
    assert posts["1234_3"].engagement.likes == 13
    assert posts["1234_3"].engagement.shares == 3
    assert all("access_token" not in str(r.url) for r in seen)  # token only in the header
    assert all(r.headers["authorization"] == "Bearer fb-token" for r in seen)
    assert out.cursor == "2026-11-29T07:00:00+00:00"
    assert out.quota_units == len(seen)


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (400, {"code": 4, "message": "Application request limit reached"}, "rate_limited"),
        (403, {"code": 32, "message": "Page request limit reached"}, "rate_limited"),
        (400, {"code": 190, "message": "Invalid OAuth access token"}, "auth"),
        (403, {"code": 10, "message": "Permission denied"}, "permission"),
    ],
)
def test_facebook_errors_are_classified(status: int, error: dict[str, Any], reason: str) -> None:
    out = run(
        collect_facebook_page(
            FB, context(lambda r: json_response({"error": error}, status)), Checkpoint()
        )
    )
    assert not out.posts
    assert out.failures[0][0] == reason


def test_facebook_usage_header_over_90_percent_pauses_the_round() -> None:
    usage = json.dumps({"call_count": 95, "total_time": 10, "total_cputime": 5})
    out = run(
        collect_facebook_page(
            FB.model_copy(update={"include_comments": True}),
            context(
                lambda r: httpx.Response(
                    200, json={"data": [fb_post(1)]}, headers={"X-App-Usage": usage}
                )
            ),
            Checkpoint(),
        )
    )
    assert [p.external_id for p in out.posts] == ["1234_1"]
    assert out.failures[0][0] == "rate_limited"
    assert not out.complete
    assert usage_percent({"x-business-use-case-usage": '{"1": [{"call_count": 42}]}'}) == 42


def test_facebook_since_comes_from_the_cursor_with_overlap() -> None:
    seen: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response({"data": []})

    run(collect_facebook_page(FB, context(graph), Checkpoint(cursor="2026-11-29T07:00:00+00:00")))
    assert int(seen[0].url.params["since"]) == int(NOW.timestamp()) - 3600 - 600


Handler = Callable[[httpx.Request], httpx.Response]


def yt_handler(calls: list[str], *, comments_disabled: bool = False) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        resource = request.url.path.rsplit("/", 1)[-1]
        calls.append(resource)
        assert request.url.params["key"] == "yt-key"
        if resource == "playlistItems":
            assert request.url.params["playlistId"] == "UU" + "a" * 22
            if request.url.params.get("pageToken") is None:
                return json_response(
                    {
                        "items": [
                            {
                                "contentDetails": {
                                    "videoId": "v2",
                                    "videoPublishedAt": "2026-11-29T06:00:00Z",
                                }
                            },
                            {
                                "contentDetails": {
                                    "videoId": "v1",
                                    "videoPublishedAt": "2026-11-28T06:00:00Z",
                                }
                            },
                        ],
                        "nextPageToken": "P2",
                    }
                )
            return json_response(
                {
                    "items": [
                        {
                            "contentDetails": {
                                "videoId": "v0",
                                "videoPublishedAt": "2026-11-01T00:00:00Z",
                            }
                        },
                        {"snippet": {}},
                    ]
                }
            )
        if resource == "videos":
            ids = request.url.params["id"].split(",")
            return json_response(
                {
                    "items": [
                        {
                            "id": v,
                            "snippet": {
                                "title": f"Video {v}",
                                "description": "Mô tả",
                                "publishedAt": "2026-11-29T06:00:00Z",
                                "channelId": "UC" + "a" * 22,
                            },
                            "statistics": {
                                "viewCount": "1000",
                                "likeCount": "50",
                                "commentCount": "2",
                            },
                        }
                        for v in ids
                    ]
                }
            )
        if resource == "commentThreads":
            if comments_disabled:
                return json_response(
                    {"error": {"code": 403, "errors": [{"reason": "commentsDisabled"}]}}, 403
                )
            video = request.url.params["videoId"]
            return json_response(
                {
                    "items": [
                        {
                            "id": f"t-{video}",
                            "snippet": {
                                "totalReplyCount": 1,
                                "topLevelComment": {
                                    "id": f"c-{video}",
                                    "snippet": {
                                        "textOriginal": "Tin giả đấy",
                                        "authorChannelId": {"value": "UCuser"},
                                        "authorDisplayName": "Người xem",
                                        "likeCount": 4,
                                        "publishedAt": "2026-11-29T07:00:00Z",
                                    },
                                },
                            },
                        }
                    ]
                }
            )
        return httpx.Response(404)

    return handler


def test_youtube_uploads_stats_and_comments_with_quota_counted() -> None:
    calls: list[str] = []
    out = run(collect_youtube_channel(YT, context(yt_handler(calls)), Checkpoint()))
    assert out.complete, out.failures
    ids = {p.external_id: p for p in out.posts}
    assert set(ids) >= {"v2", "v1", "v0", "c-v2", "c-v1"}
    video = ids["v2"]
    assert video.kind is PostKind.VIDEO
    assert video.url == "https://www.youtube.com/watch?v=v2"
    assert video.text == "Video v2\n\nMô tả"
    assert video.engagement.views == 1000
    comment = ids["c-v1"]
    assert comment.url.endswith("watch?v=v1&lc=c-v1")
    assert comment.author_ref is None
    assert out.quota_units == len(calls)
    assert {r.reason for r in out.rejected} == {"malformed_item"}


def test_youtube_stops_at_the_cursor_and_respects_the_daily_budget() -> None:
    calls: list[str] = []
    checkpoint = Checkpoint(cursor="2026-11-28T12:00:00+00:00")
    out = run(
        collect_youtube_channel(
            YT.model_copy(update={"include_comments": False}),
            context(yt_handler(calls)),
            checkpoint,
        )
    )
    assert [p.external_id for p in out.posts] == ["v2"]
    assert calls.count("playlistItems") == 1
    spent = Checkpoint(quota_day=NOW.date().isoformat(), quota_used=49)
    out = run(collect_youtube_channel(YT, context(yt_handler([])), spent))
    assert out.failures
    assert out.failures[-1][0] == "rate_limited"
    assert out.quota_units <= 1


def test_youtube_disabled_comments_are_not_a_failure_but_quota_is() -> None:
    out = run(
        collect_youtube_channel(YT, context(yt_handler([], comments_disabled=True)), Checkpoint())
    )
    assert out.complete
    assert {p.kind for p in out.posts} == {PostKind.VIDEO}
    quota = run(
        collect_youtube_channel(
            YT,
            context(
                lambda r: json_response(
                    {"error": {"code": 403, "errors": [{"reason": "quotaExceeded"}]}}, 403
                )
            ),
            Checkpoint(),
        )
    )
    assert quota.failures[0][0] == "rate_limited"


def tt_handler(calls: list[dict[str, Any]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/oauth/token/":
            assert b"client_key=client-key" in request.content
            return json_response(
                {"access_token": "clt.abc", "expires_in": 7200, "token_type": "Bearer"}
            )
        assert request.headers["authorization"] == "Bearer clt.abc"
        body = json.loads(request.content)
        calls.append(body)
        if request.url.path == "/v2/research/video/query/":
            assert "username" in request.url.params["fields"]
            if body["cursor"] == 0:
                return json_response(
                    {
                        "data": {
                            "videos": [
                                {
                                    "id": 7001,
                                    "video_description": "Cảnh báo lừa đảo",
                                    "create_time": 1764396000,
                                    "username": "user_a",
                                    "like_count": 5,
                                    "view_count": 100,
                                },
                            ],
                            "cursor": 100,
                            "has_more": True,
                            "search_id": "S1",
                        },
                        "error": {"code": "ok", "message": ""},
                    }
                )
            assert body["search_id"] == "S1"
            return json_response(
                {
                    "data": {
                        "videos": [{"id": 7002, "create_time": 1764396000}],
                        "cursor": 200,
                        "has_more": False,
                        "search_id": "S1",
                    },
                    "error": {"code": "ok"},
                }
            )
        if request.url.path == "/v2/research/video/comment/list/":
            return json_response(
                {
                    "data": {
                        "comments": [
                            {
                                "id": 9001,
                                "video_id": body["video_id"],
                                "text": "lừa đảo thật",
                                "create_time": 1764396100,
                            }
                        ],
                        "has_more": False,
                        "cursor": 1,
                    },
                    "error": {"code": "ok"},
                }
            )
        return httpx.Response(404)

    return handler


def test_tiktok_query_pages_with_search_id_and_fetches_comments() -> None:
    calls: list[dict[str, Any]] = []
    ctx = context(tt_handler(calls))
    out = run(collect_tiktok_query(TT, ctx, Checkpoint()))
    assert out.complete, out.failures
    ids = {p.external_id: p for p in out.posts}
    assert set(ids) == {"7001", "9001"}  # 7002 has no description: rejected, not delivered
    assert ids["7001"].url == "https://www.tiktok.com/@user_a/video/7001"
    assert ids["7001"].author_ref is None
    assert ids["9001"].parent_external_id == "7001"
    assert {r.reason for r in out.rejected} == {"no_text"}
    query = calls[0]["query"]["and"]
    assert {"operation": "IN", "field_name": "region_code", "field_values": ["VN"]} in query
    assert out.quota_units == 4  # token + 2 query pages + 1 comment list
    again = run(collect_tiktok_query(TT, ctx, Checkpoint()))
    assert again.quota_units == 3  # the token is cached for its lifetime


def test_tiktok_rate_limit_envelope() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/oauth/token/":
            return json_response({"access_token": "t", "expires_in": 60})
        return json_response(
            {"error": {"code": "rate_limit_exceeded", "message": "slow down"}},
            429,
            **{"Retry-After": "86400"},
        )

    out = run(collect_tiktok_query(TT, context(handler), Checkpoint()))
    assert out.failures[0][0] == "rate_limited"
    assert not out.posts


@pytest.mark.parametrize("body", [b"<html>502</html>", b'{"data": [1', b"[]"])
def test_malformed_api_payloads_fail_the_round_cleanly(body: bytes) -> None:
    out = run(
        collect_facebook_page(
            FB, context(lambda r: httpx.Response(200, content=body)), Checkpoint()
        )
    )
    assert out.failures[0][0] == "malformed_response"
    assert not out.posts


def test_missing_credentials_fail_without_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FB_T")
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    out = run(collect_facebook_page(FB, context(handler), Checkpoint()))
    assert out.failures[0][0] == "credentials"
    assert not requests
