"""`canhbao collect --once` and `canhbao import` end to end: fixture news sites on loopback →
the embedded pipeline and SQLite store, and → real Kafka; re-running delivers no duplicates."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from alerting.store import SQLiteStore
from canhbao.cli import app
from ingest.fixture_server import FixtureServer, Reply, serve_fixtures
from ingest.fixture_site import publish_site
from schemas import RawPost
from stream_jobs.topics import SCHEMA_HEADER, Topology
from tests.conftest import AUDIT_KEY, line

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def site() -> Iterator[FixtureServer]:
    with serve_fixtures() as server:
        publish_site(server, range(8))
        server.route("/broken.xml", Reply.text("<html>502 Bad Gateway</html>", "text/html"))
        yield server


@pytest.fixture
def sources(tmp_path: Path, site: FixtureServer) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "defaults: {per_host_rate_per_s: 100, timeout_s: 3, max_attempts: 2}\n"
        "sources:\n"
        f"  - {{name: bao-mau, type: rss, url: '{site.url('/rss.xml')}', interval: 1m,"
        " allow_internal: true}\n"
        f"  - {{name: bao-mau-sitemap, type: sitemap, url: '{site.url('/sitemap-news.xml')}',"
        " allow_internal: true}\n"
        f"  - {{name: hong, type: rss, url: '{site.url('/broken.xml')}',"
        " allow_internal: true}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def env(tmp_path: Path, tiny_model_dir: Path) -> dict[str, str]:
    return {
        "CANHBAO_DATA_DIR": str(tmp_path / "var"),
        "CANHBAO_AUDIT_KEY": AUDIT_KEY.decode(),
        "CANHBAO_MODEL_DIR": str(tiny_model_dir),
        "CANHBAO_LOG_LEVEL": "WARNING",
    }


def reports(output: str) -> dict[str, Any]:
    document = json.loads(output.strip().splitlines()[-1])
    return {r["source"]: r for r in document["sources"]} | {"_pipeline": document["pipeline"]}


def test_collect_once_into_the_embedded_pipeline_then_no_duplicates(
    sources: Path, env: dict[str, str], tmp_path: Path
) -> None:
    args = ["collect", "--once", "--sources", str(sources), "--json"]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 4, first.output  # one source is broken: reported, others ran
    got = reports(first.stdout)
    assert got["bao-mau"]["new"] == 8
    assert got["bao-mau-sitemap"]["new"] == 8
    assert got["hong"]["failures"][0]["reason"] == "malformed_feed"
    pipeline = got["_pipeline"]
    assert pipeline["posts_in"] == 16
    assert pipeline["processed"] == 8
    assert pipeline["duplicates"] == {"same_post": 8}
    store = SQLiteStore(tmp_path / "var" / "canhbao.db", audit_key=AUDIT_KEY)
    assert store.counts()["posts"] == 8
    store.close()

    again = reports(runner.invoke(app, args, env=env).stdout)
    assert again["bao-mau"]["new"] == 0
    assert again["bao-mau-sitemap"]["new"] == 0
    assert again["_pipeline"]["posts_in"] == 0

    one = runner.invoke(
        app,
        ["collect", "--once", "--sources", str(sources), "--source", "bao-mau", "--json"],
        env=env,
    )
    assert one.exit_code == 0, one.output
    assert set(reports(one.stdout)) == {"bao-mau", "_pipeline"}


def test_unknown_source_and_bad_file_are_clear_errors(sources: Path, env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["collect", "--once", "--sources", str(sources), "--source", "x"], env=env
    )
    assert result.exit_code == 1
    assert "no source named 'x'" in result.output
    bad = sources.with_name("bad.yaml")
    bad.write_text("sources:\n  - {name: z, type: zalo}\n")
    result = runner.invoke(app, ["collect", "--once", "--sources", str(bad)], env=env)
    assert result.exit_code == 1
    assert "intake" in result.output


def drain(bootstrap: str, topic: str, at_least: int, seconds: float = 20.0) -> list[object]:
    from stream_jobs.backends.kafka import KafkaConsumerBackend

    consumer = KafkaConsumerBackend(bootstrap, [topic], group_id=f"check-{time.time_ns()}")
    got: list[object] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and len(got) < at_least:
            got.extend(consumer.poll_batch(500, timeout_s=0.5))
        if at_least == 0:
            got.extend(consumer.poll_batch(500, timeout_s=3.0))
    finally:
        consumer.close()
    return got


def test_collect_once_into_real_kafka_then_no_duplicates(
    sources: Path, env: dict[str, str], kafka_bootstrap: str, unique: str
) -> None:
    from stream_jobs.backends.kafka import ensure_topics

    topology = Topology(prefix=unique, partitions=2, destinations=())
    ensure_topics(kafka_bootstrap, topology.specs())
    kafka_env = env | {"CANHBAO_KAFKA_BOOTSTRAP": kafka_bootstrap, "CANHBAO_TOPIC_PREFIX": unique}
    args = [
        "collect",
        "--once",
        "--sources",
        str(sources),
        "--source",
        "bao-mau",
        "--to",
        "kafka",
        "--json",
    ]
    first = runner.invoke(app, args, env=kafka_env)
    assert first.exit_code == 0, first.output
    messages = drain(kafka_bootstrap, topology.raw, 8)
    assert len(messages) == 8
    posts = [RawPost.model_validate_json(m.value) for m in messages]  # type: ignore[attr-defined]
    assert {p.source_id for p in posts} == {"bao-mau"}
    assert all(m.headers[SCHEMA_HEADER] == "raw_post/1" for m in messages)  # type: ignore[attr-defined]
    assert all(p.author_ref is None for p in posts)  # no author reaches the bus

    again = runner.invoke(app, args, env=kafka_env)
    assert reports(again.stdout)["bao-mau"]["new"] == 0
    assert len(drain(kafka_bootstrap, topology.raw, 0)) == 8  # still 8: nothing re-sent


def test_import_csv_embedded_and_to_kafka(
    tmp_path: Path, env: dict[str, str], kafka_bootstrap: str, unique: str
) -> None:
    from stream_jobs.backends.kafka import ensure_topics

    csv_file = tmp_path / "posts.csv"
    csv_file.write_text(
        "platform,source_id,external_id,url,text\n"
        "partner,import,1,https://doitac.vn/1,Cảm ơn bạn đã chia sẻ thông tin hữu ích\n"
        "partner,import,2,https://doitac.vn/2,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", str(csv_file)], env=env)
    assert result.exit_code == 3, result.output  # row 3 has no text: dead-lettered
    assert "dead letters" in result.output.lower() or "rejected" in result.output.lower()

    topology = Topology(prefix=unique, partitions=1, destinations=())
    ensure_topics(kafka_bootstrap, topology.specs())
    kafka_env = env | {"CANHBAO_KAFKA_BOOTSTRAP": kafka_bootstrap, "CANHBAO_TOPIC_PREFIX": unique}
    sent = runner.invoke(app, ["import", str(csv_file), "--to", "kafka"], env=kafka_env)
    assert sent.exit_code == 0, sent.output
    assert "2 record(s)" in sent.output
    assert len(drain(kafka_bootstrap, topology.raw, 2)) == 2


def test_import_to_kafka_dead_letters_an_oversize_record_and_goes_on(
    tmp_path: Path, env: dict[str, str], kafka_bootstrap: str, unique: str
) -> None:
    """Reliability finding 7: `import --to kafka` stopped at the first over-size record (807 of
    808 sent, exit 1). Finding 6: a dead letter of a large record was too large to send."""
    import json

    from schemas import DeadLetter
    from stream_jobs.backends.kafka import ensure_topics
    from stream_jobs.topics import DEAD_LETTER_MAX_ORIGINAL

    posts = tmp_path / "posts.jsonl"
    big = line(external_id="big", text="chữ dài " * 150_000)  # ~1.4 MB: over one message
    assert len(big) > 1_200_000
    lines = [line(external_id=f"n{i}", text=f"tin số {i} hôm nay trời đẹp") for i in range(3)]
    posts.write_bytes(b"\n".join([lines[0], big, lines[1], lines[2]]) + b"\n")
    topology = Topology(prefix=unique, partitions=1, destinations=())
    ensure_topics(kafka_bootstrap, topology.specs())
    kafka_env = env | {"CANHBAO_KAFKA_BOOTSTRAP": kafka_bootstrap, "CANHBAO_TOPIC_PREFIX": unique}
    sent = runner.invoke(app, ["import", str(posts), "--to", "kafka"], env=kafka_env)
    assert sent.exit_code == 3, sent.output
    assert "3 record(s)" in sent.output
    assert len(drain(kafka_bootstrap, topology.raw, 3)) == 3
    [message] = drain(kafka_bootstrap, topology.dead_letters, 1)
    letter = DeadLetter.model_validate_json(message.value)  # type: ignore[attr-defined]
    assert letter.reason_code.value == "record_too_large"
    assert letter.origin == f"{posts.name}:2"
    assert letter.truncated
    assert letter.original_size == len(big)
    assert len(letter.original) == DEAD_LETTER_MAX_ORIGINAL
    assert len(message.value) < 1_000_000  # type: ignore[attr-defined]
    assert json.loads(message.value)["original_sha256"]  # type: ignore[attr-defined]


def test_intake_server_signed_post_reaches_kafka(
    tmp_path: Path, env: dict[str, str], kafka_bootstrap: str, unique: str
) -> None:
    import os
    import socket
    import subprocess
    import sys

    import httpx

    from schemas.signing import PARTNER_HEADER, SIGNATURE_HEADER, sign
    from stream_jobs.backends.kafka import ensure_topics

    topology = Topology(prefix=unique, partitions=1, destinations=())
    ensure_topics(kafka_bootstrap, topology.specs())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "doi-tac-secret-0123456789"
    process_env = (
        os.environ
        | env
        | {
            "CANHBAO_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CANHBAO_TOPIC_PREFIX": unique,
            "CANHBAO_INTAKE_SECRETS": json.dumps({"doitac": secret}),
        }
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "canhbao", "intake", "--to", "kafka", "--port", str(port)],
        env=process_env,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        body = json.dumps(
            {
                "platform": "zalo",
                "source_id": "x",
                "external_id": "z-1",
                "url": "https://zalo.me/z-1",
                "text": "Tin đồn thất thiệt",
                "collected_at": "2026-11-29T08:00:00Z",
                "author_handle": "Trần Thị C",
            }
        ).encode()
        headers = {
            PARTNER_HEADER: "doitac",
            SIGNATURE_HEADER: sign(secret.encode(), body, int(time.time())),
            "Content-Type": "application/json",
        }
        response = httpx.post(f"{base}/intake/posts", content=body, headers=headers, timeout=10)
        assert response.status_code == 202, response.text
        replay = httpx.post(f"{base}/intake/posts", content=body, headers=headers, timeout=10)
        assert replay.status_code == 409
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert b"Traceback" not in stderr, stderr.decode()
    [message] = drain(kafka_bootstrap, topology.raw, 1)
    post = RawPost.model_validate_json(message.value)  # type: ignore[attr-defined]
    assert post.source_id == "partner-doitac"
    assert post.author_ref is None
    assert "Trần" not in message.value.decode()  # type: ignore[attr-defined]
