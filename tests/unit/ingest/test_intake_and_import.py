"""The signed intake endpoint (in-process ASGI client) and CSV/JSONL file import."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.fileimport import read_csv, read_posts_file
from ingest.intake import create_intake_app
from schemas import RawPost
from schemas.signing import PARTNER_HEADER, SIGNATURE_HEADER, sign
from stream_jobs.exceptions import BusError, RejectedRecord
from stream_jobs.parse import ParseLimits, parse_record

SECRET = b"vtv-partner-secret-0123"
NOW = 1_790_000_000.0


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.posts: list[RawPost] = []
        self.fail = fail

    def deliver(self, posts: Sequence[RawPost]) -> None:
        if self.fail:
            raise BusError("Kafka did not acknowledge")
        self.posts.extend(posts)


def post(**overrides: Any) -> dict[str, Any]:
    return {
        "platform": "zalo",
        "source_id": "ignored",
        "external_id": "z1",
        "url": "https://zalo.me/p/z1",
        "text": "Tin đồn thất thiệt về dịch bệnh",
        "collected_at": "2026-11-29T08:00:00Z",
        "author_handle": "Nguyễn Văn B",
    } | overrides


def send(
    client: TestClient,
    payload: Any,
    *,
    t: float = NOW,
    secret: bytes = SECRET,
    partner: str = "vtv",
    raw: bytes | None = None,
) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {
        PARTNER_HEADER: partner,
        SIGNATURE_HEADER: sign(secret, body, int(t)),
        "Content-Type": "application/json",
    }
    return client.post("/intake/posts", content=body, headers=headers)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def client(sink: Sink) -> TestClient:
    return TestClient(create_intake_app({"vtv": SECRET}, sink, clock=lambda: NOW))


def test_a_signed_batch_is_accepted_without_its_author_and_attributed(
    client: TestClient, sink: Sink
) -> None:
    response = send(client, {"posts": [post(), post(external_id="z2")]})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    assert response.json()["rejected"] == []
    assert [p.source_id for p in sink.posts] == ["partner-vtv"] * 2
    assert sink.posts[0].author_ref is None  # dropped at the door: nothing downstream needs it
    assert "Nguyễn Văn B" not in sink.posts[0].model_dump_json()


def test_per_item_errors_are_reported_and_valid_items_kept(client: TestClient, sink: Sink) -> None:
    response = send(
        client,
        {
            "posts": [
                post(),
                post(text="   "),
                post(url="javascript:alert(1)"),
                post(text="<script>x</script>"),
            ]
        },
    )
    assert response.status_code == 202
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [1, 2, 3]
    assert {r["reason"] for r in rejected} == {"empty_text", "schema_violation", "html_in_text"}
    assert len(sink.posts) == 1


def test_all_invalid_is_422(client: TestClient) -> None:
    assert send(client, post(text="")).status_code == 422


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"secret": b"wrong-secret-0123456789"}, 401, "does not match"),
        ({"t": NOW - 301}, 401, "from our clock"),
        ({"partner": "nobody"}, 401, "unknown partner"),
    ],
)
def test_bad_signatures_are_refused(
    client: TestClient, sink: Sink, kwargs: dict[str, Any], status: int, message: str
) -> None:
    response = send(client, post(), **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert not sink.posts


def test_a_replayed_request_is_refused(client: TestClient, sink: Sink) -> None:
    assert send(client, post()).status_code == 202
    replay = send(client, post())
    assert replay.status_code == 409
    assert "replay" in replay.json()["error"]
    assert len(sink.posts) == 1


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    assert send(client, None, raw=b"{not json").status_code == 400
    assert send(client, {"posts": []}).status_code == 400
    assert send(client, {"posts": [post()] * 1001}).status_code == 413


def test_bus_outage_is_503_so_the_partner_retries(sink: Sink) -> None:
    failing = TestClient(create_intake_app({"vtv": SECRET}, Sink(fail=True), clock=lambda: NOW))
    response = send(failing, post())
    assert response.status_code == 503
    assert "retry" in response.json()["error"]
    metrics = failing.get("/metrics").text
    assert 'canhbao_intake_requests_total{outcome="unavailable",partner="vtv"} 1.0' in metrics


def test_csv_rows_become_records_the_pipeline_parses(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "platform,source_id,external_id,url,text,likes,author_handle,published_at\n"
        'facebook,import,1,https://fb.com/1,"Tin giả, lan truyền",12,ban_a,2026-11-28T10:00:00Z\n'
        "facebook,import,2,https://fb.com/2,,0,,\n"
        'forum,import,3,https://forum.vn/3,"dòng ""trích dẫn""\nxuống dòng",,,\n'
        "facebook,import,4,https://fb.com/4,quá nhiều ô,1,a,b,c\n",
        encoding="utf-8",
    )
    records = list(read_csv(path))
    assert [r.origin for r in records] == [
        "posts.csv:2",
        "posts.csv:3",
        "posts.csv:5",
        "posts.csv:6",
    ]
    first = parse_record(records[0].data, limits=ParseLimits())
    assert first.text == "Tin giả, lan truyền"
    assert first.engagement.likes == 12
    assert first.author_ref is None
    assert b"ban_a" in records[0].data  # the CSV had it; the parsed post does not
    third = parse_record(records[2].data, limits=ParseLimits())
    assert third.text == 'dòng "trích dẫn"\nxuống dòng'
    for bad in (records[1], records[3]):  # empty text; more cells than columns
        with pytest.raises(RejectedRecord):
            parse_record(bad.data, limits=ParseLimits())


def test_csv_without_a_text_column_or_not_utf8_is_refused(tmp_path: Path) -> None:
    from ingest.exceptions import IngestError

    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match="`text` column"):
        list(read_csv(path))
    path.write_bytes("text\nHà Nội\n".encode("utf-16"))
    with pytest.raises(IngestError, match="UTF-8"):
        list(read_csv(path))


def test_extension_picks_the_reader(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_bytes(json.dumps(post()).encode() + b"\n")
    assert [r.origin for r in read_posts_file(jsonl)] == ["a.jsonl:1"]
