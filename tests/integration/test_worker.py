"""The Faust worker end to end on real servers: Kafka → worker → OpenSearch (+ topics).

The worker runs as a real `canhbao worker` process, so stopping and killing it are real too."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from alerting.store.opensearch import OpenSearchStore
from classifiers import ClassifierInput
from classifiers.baseline import BaselineModel
from schemas import ClassifiedPost, PostKind
from stream_jobs.backends.abstract import Message
from stream_jobs.backends.kafka import KafkaConsumerBackend
from stream_jobs.pipeline import PipelineContext
from stream_jobs.topics import SCHEMA_HEADER, Topology
from tests.conftest import AUDIT_KEY, line
from tests.integration.workers import (
    CLEAN,
    HOSTILE,
    Worker,
    count,
    free_port,
    opensearch_pid,
    produce,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_posts_flow_through_kafka_worker_and_opensearch(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    topology = Topology(prefix=unique, partitions=3)
    port = free_port()
    worker = Worker(worker_env, tmp_path / "worker.log", "--metrics-port", str(port))
    try:
        records = [line(external_id=f"h{i}", text=t) for i, t in enumerate(HOSTILE)]
        records += [line(external_id=f"c{i}", text=t) for i, t in enumerate(CLEAN)]
        records += [b"{not json", line(external_id="h0", text=HOSTILE[0])]  # broken, repeat
        records += [line(external_id="big", text="chữ " * 30_000)]  # ~150 kB, over the limit
        produce(kafka_bootstrap, topology.raw, records)
        store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
        wait_for(lambda: count(store, "posts") == 5 and count(store, "deadletters") == 2,
                 what="posts and the dead letters in OpenSearch")  # fmt: skip
        assert count(store, "alerts") == 3
        assert store.verify_audit_chain() == 3
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "canhbao_posts_in_total 8.0" in metrics
        assert "canhbao_alerts_queued_total 3.0" in metrics
        wait_for(
            lambda: "canhbao_consumer_lag{" in httpx.get(f"http://127.0.0.1:{port}/metrics").text,
            seconds=30,
            what="the consumer-lag gauge",
        )
        letters = {d.reason_code.value: d for d in store.dead_letters()}
        assert set(letters) == {"malformed_json", "text_too_large"}
        assert letters["malformed_json"].origin.startswith(f"{topology.raw}/")
        assert len(letters["text_too_large"].original) > 100_000  # the bytes, kept whole
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()

    topics = [topology.alerts, topology.dead_letters, topology.classified]
    review = KafkaConsumerBackend(kafka_bootstrap, topics, "t")
    messages: list[Message] = []

    def all_arrived() -> bool:  # 3 alerts, 2 dead letters, 5 classified posts
        messages.extend(review.poll_batch(100, 0.5))
        return len(messages) >= 10

    wait_for(all_arrived, seconds=30, what="the classified, review and dead-letter topics")
    review.close()
    by_topic: dict[str, list[Message]] = {}
    for m in messages:
        by_topic.setdefault(m.topic, []).append(m)
    assert len({json.loads(m.value)["alert_id"] for m in by_topic[topology.alerts]}) == 3
    assert by_topic[topology.alerts][0].headers[SCHEMA_HEADER] == "alert/1"
    assert len(by_topic[topology.dead_letters]) == 2
    classified = [
        ClassifiedPost.model_validate_json(m.value) for m in by_topic[topology.classified]
    ]
    assert len({c.post.post_id for c in classified}) == 5
    assert by_topic[topology.classified][0].headers[SCHEMA_HEADER] == "classified_post/1"


def test_killed_worker_loses_and_doubles_nothing(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tiny_model: BaselineModel, tmp_path: Path,
) -> None:  # fmt: skip
    topology = Topology(prefix=unique, partitions=3)
    # Under 8 words each, so only exact repeats count as duplicates: 400 distinct posts.
    short_clean = ["trời đẹp quá", "cảm ơn bạn nhiều"]
    texts = [
        f"{HOSTILE[i % 3]} {i}" if i % 2 else f"{short_clean[i % 4 // 2]} {i}" for i in range(400)
    ]
    inputs = [ClassifierInput(f"{i:032x}", t, kind=PostKind.COMMENT) for i, t in enumerate(texts)]
    # Comments only get hostile labels (the spam and misinformation heads run on other kinds),
    # and each of those is at least of medium severity: one alert per flagged post.
    expected_alerts = sum(1 for result in tiny_model.predict(inputs) if result.labels)
    produce(
        kafka_bootstrap,
        topology.raw,
        [line(external_id=f"p{i}", text=t) for i, t in enumerate(texts)],
    )
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)

    first = Worker(worker_env, tmp_path / "worker1.log")
    # Alerts are the first write of a batch: killing as soon as one exists cuts a batch short
    # (no shutdown, no final commit), leaving alerts without audit entries and posts unwritten.
    wait_for(lambda: count(store, "alerts") > 0, seconds=60, what="the first alerts")
    first.stop(signal.SIGKILL)

    second = Worker(worker_env, tmp_path / "worker2.log")
    try:
        # Audit entries are written after their batch's posts and alerts: wait for the last.
        wait_for(
            lambda: store.verify_audit_chain() >= expected_alerts,
            what="one audit entry per alert after the restart",
        )
        time.sleep(2)  # let any redelivered batch land, to catch duplicates
        assert count(store, "posts") == 400
        assert count(store, "alerts") == expected_alerts
        assert store.verify_audit_chain() == expected_alerts  # exactly one "created" each
        created = {e.target for e in store.audit_log(limit=1000)}
        assert len(created) == expected_alerts
    finally:
        assert second.stop() == 0, (tmp_path / "worker2.log").read_text()


def test_store_outage_is_waited_out_and_nothing_is_lost(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    pid = opensearch_pid()
    topology = Topology(prefix=unique, partitions=3)
    env = {**worker_env, "CANHBAO_OPENSEARCH_TIMEOUT_S": "2"}
    worker = Worker(env, tmp_path / "worker.log")
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    try:
        produce(kafka_bootstrap, topology.raw, [line(external_id="a", text=CLEAN[0])])
        wait_for(lambda: count(store, "posts") == 1, what="the first post")
        os.kill(pid, signal.SIGSTOP)  # OpenSearch stops answering, mid-stream
        try:
            later = [line(external_id=f"h{i}", text=t) for i, t in enumerate(HOSTILE)]
            produce(kafka_bootstrap, topology.raw, later)
            log = tmp_path / "worker.log"
            wait_for(lambda: "store unavailable" in log.read_text(), seconds=60,
                     what="the worker to notice the outage")  # fmt: skip
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: count(store, "posts") == 4, what="the posts held during the outage")
        assert count(store, "alerts") == 3
        assert store.verify_audit_chain() == 3
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()


def test_no_author_reaches_a_store_a_topic_or_a_response(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Finding 3 of the trust & safety issue: handles in clear in dead letters, `author_ref`
    stored and published on posts.classified. A known handle is sent in good records, in a
    malformed one and in a rejected one; then every index, every topic payload (dead letters'
    original bytes decoded) and every API response is searched for it and its reference."""
    from fastapi.testclient import TestClient

    from alerting.accounts import AccountStore, Role
    from alerting.api import create_app
    from schemas import DeadLetter, pseudonymise_handle
    from tests.conftest import FAST_HASHER, PASSWORD, PSEUDONYM_KEY

    handle = "nguyen_van_realname_77"
    ref = pseudonymise_handle(handle, PSEUDONYM_KEY)
    given_ref = "ph1_" + "7" * 32
    env = {**worker_env, "CANHBAO_PSEUDONYM_KEY": PSEUDONYM_KEY.decode()}
    topology = Topology(prefix=unique, partitions=3)
    records = [
        line(external_id=f"a{i}", text=t, author_handle=handle) for i, t in enumerate(HOSTILE)
    ]
    records.append(line(external_id="r", text=CLEAN[0], author_ref=given_ref))
    records.append(b'{"text": "bon bac ky", "author_handle": "' + handle.encode() + b'", oops')
    records.append(line(external_id="empty", text=" ", author_handle=handle))
    worker = Worker(env, tmp_path / "worker.log")
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    try:
        produce(kafka_bootstrap, topology.raw, records)
        wait_for(lambda: count(store, "posts") == 4 and count(store, "deadletters") == 2,
                 what="posts and dead letters in OpenSearch")  # fmt: skip
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()

    def leaks(text: str) -> list[str]:
        return [needle for needle in (handle, ref, given_ref) if needle in text]

    store._client.indices.refresh(index=f"{unique}-*")
    hits = store._client.search(index=f"{unique}-*", body={"size": 1000})["hits"]["hits"]
    assert len(hits) >= 4 + 2 + 3  # posts, dead letters, alerts (and more)
    assert leaks(json.dumps(hits, ensure_ascii=False)) == []
    letters = store.dead_letters()
    for letter in letters:
        assert handle.encode() not in letter.original  # redacted …
    assert any(ref.encode() in letter.original for letter in letters)  # … to its keyed hash

    topics = [topology.alerts, topology.dead_letters, topology.classified]
    consumer = KafkaConsumerBackend(kafka_bootstrap, topics, "leak-check")
    messages: list[Message] = []

    def arrived() -> bool:
        messages.extend(consumer.poll_batch(100, 0.5))
        return len(messages) >= 4 + 2 + 3

    wait_for(arrived, seconds=30, what="the classified, review and dead-letter topics")
    consumer.close()
    for message in messages:
        text = message.value.decode()
        if message.topic == topology.dead_letters:
            text += DeadLetter.model_validate_json(text).original.decode("utf-8", "replace")
        assert handle not in text, message.topic
        assert given_ref not in text, message.topic
        if message.topic != topology.dead_letters:
            assert ref not in text, message.topic

    accounts = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    accounts.add_user("lan", PASSWORD, Role.SUPERVISOR)
    _, token = accounts.issue_token("lan", "tests")
    client = TestClient(create_app(store, accounts=accounts, destinations=("cong_an",)))
    auth = {"Authorization": f"Bearer {token}"}
    listing = client.get("/api/alerts?limit=500", headers=auth)
    bodies = [listing.text, client.get("/api/audit", headers=auth).text]
    bodies += [client.get(f"/api/alerts/{a['alert_id']}", headers=auth).text
               for a in listing.json()["alerts"]]  # fmt: skip
    assert len(bodies) >= 5
    assert leaks("\n".join(bodies)) == []
    store.close()


def test_stopping_while_the_store_is_down_exits_in_time_and_loses_nothing(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Reliability finding 9 (SIGTERM while OpenSearch is down waited forever) and finding 1's
    mechanism: Faust acknowledges a batch whose handler raised or was cancelled. A worker told
    to stop mid-outage must exit within its grace period *without* acknowledging the batch, so
    the next worker stores every post of it."""
    pid = opensearch_pid()
    topology = Topology(prefix=unique, partitions=3)
    env = {**worker_env, "CANHBAO_OPENSEARCH_TIMEOUT_S": "2"}
    log = tmp_path / "worker.log"
    worker = Worker(env, log)
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    produce(kafka_bootstrap, topology.raw, [line(external_id="a", text=CLEAN[0])])
    wait_for(lambda: count(store, "posts") == 1, what="the first post")
    os.kill(pid, signal.SIGSTOP)
    try:
        held = [line(external_id=f"h{i}", text=t) for i, t in enumerate(HOSTILE)]
        produce(kafka_bootstrap, topology.raw, held)
        wait_for(lambda: "store unavailable" in log.read_text(), seconds=60,
                 what="the worker to notice the outage")  # fmt: skip
        started = time.monotonic()
        status = worker.stop(timeout=90)
        stopped_in = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert status == 70, log.read_text()
    assert stopped_in < 60, f"took {stopped_in:.0f} s to stop"
    assert "exiting without acknowledging" in log.read_text()
    second = Worker(env, tmp_path / "worker2.log")
    try:
        wait_for(lambda: count(store, "posts") == 4, what="the held batch, redelivered")
        assert count(store, "alerts") == 3
        assert store.verify_audit_chain() == 3
    finally:
        assert second.stop() == 0, (tmp_path / "worker2.log").read_text()


def test_the_dead_letter_of_a_large_record_reaches_its_topic(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Reliability finding 6: a ~1 MB rejected record made a 1.33 MB dead letter; its send
    crashed the agent and the dead letter never reached the topic. The topic now carries a
    bounded copy (size and hash of the whole), the store the whole record."""
    from schemas import DeadLetter

    topology = Topology(prefix=unique, partitions=3)
    big = line(external_id="big", text="chữ " * 150_000)  # ~900 kB: fits a message, not as base64
    assert 800_000 < len(big) < 1_000_000
    worker = Worker(worker_env, tmp_path / "worker.log")
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    try:
        produce(kafka_bootstrap, topology.raw, [big, line(external_id="ok", text=CLEAN[0])])
        wait_for(lambda: count(store, "posts") == 1 and count(store, "deadletters") == 1,
                 what="the post and the dead letter in OpenSearch")  # fmt: skip
        consumer = KafkaConsumerBackend(kafka_bootstrap, [topology.dead_letters], "dl-check")
        got: list[Message] = []

        def arrived() -> bool:
            got.extend(consumer.poll_batch(10, 0.5))
            return bool(got)

        wait_for(arrived, seconds=30, what="the dead letter on its topic")
        consumer.close()
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()
    on_topic = DeadLetter.model_validate_json(got[0].value)
    assert on_topic.truncated
    assert on_topic.original_size == len(big)
    [stored] = store.dead_letters()
    assert stored.original == big  # the whole record stays in the store


def test_a_replayed_batch_publishes_and_audits_what_its_first_writer_did_not(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path, ctx: PipelineContext,
) -> None:  # fmt: skip
    """Reliability findings 3 and 4: after a SIGKILL between storing and publishing, the replay
    judged the stored posts `same_post` duplicates and re-sent nothing (alerts never reached
    alerts.review, posts never reached posts.classified), and an alert whose audit entry was
    lost stayed unaudited. Here the store is left as such a writer leaves it: posts,
    classifications and alerts stored, no audit entry, nothing published."""
    from schemas import AuditAction
    from stream_jobs.pipeline import InboundRecord, process_batch
    from stream_jobs.storing import stored_batch

    topology = Topology(prefix=unique, partitions=3)
    records = [line(external_id=f"r{i}", text=t) for i, t in enumerate(HOSTILE + CLEAN)]
    result = process_batch([InboundRecord(f"x:{i}", r) for i, r in enumerate(records)], ctx)
    assert len(result.alerts) == 3
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    batch = stored_batch(result)
    store._bulk(store._alert_lines(batch))  # alerts, but the writer died before their audit
    store._bulk(store._post_lines(batch))
    store._client.indices.refresh(index=f"{unique}-*")
    assert store.audit_head()[0] == 0

    worker = Worker(worker_env, tmp_path / "worker.log")
    consumer = KafkaConsumerBackend(kafka_bootstrap, [topology.alerts, topology.classified], "r")
    messages: list[Message] = []

    def republished() -> bool:
        messages.extend(consumer.poll_batch(100, 0.5))
        return len(messages) >= 3 + 5

    try:
        produce(kafka_bootstrap, topology.raw, records)  # the redelivery
        wait_for(republished, seconds=60, what="the replay's messages downstream")
    finally:
        consumer.close()
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()
    alerts = {json.loads(m.value)["alert_id"] for m in messages if m.topic == topology.alerts}
    assert alerts == {a.alert_id for a in result.alerts}
    classified = {
        ClassifiedPost.model_validate_json(m.value).post.post_id
        for m in messages
        if m.topic == topology.classified
    }
    assert classified == {p.post_id for p in result.posts}
    assert count(store, "posts") == 5  # nothing stored twice
    assert store.verify_audit_chain() == 3
    created = [
        e.target for e in store.audit_log(limit=100) if e.action is AuditAction.ALERT_CREATED
    ]
    assert sorted(created) == sorted(a.alert_id for a in result.alerts)  # once each


def test_partitions_that_move_bring_their_posts_into_the_dedup_index(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path, ctx: PipelineContext,
) -> None:  # fmt: skip
    """Reliability finding 5: the dedup index was per worker and not reloaded on rebalance, so
    after a partition moved, exact repeats of posts another worker had stored were processed
    as new (119 posts, +49 alerts). Here posts are stored behind a running worker's back (as
    another worker would), then partitions move; their repeats must be caught."""
    from alerting.store import StoredBatch
    from stream_jobs.pipeline import InboundRecord, process_batch

    texts = [f"{t} lần {i}" for i, t in enumerate(HOSTILE + CLEAN)]
    first = Worker(worker_env, tmp_path / "a.log")
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)

    def rewarmed(log: Path) -> int:
        return log.read_text().count("dedup index re-warmed")

    try:
        wait_for(lambda: rewarmed(tmp_path / "a.log") >= 1, what="the first assignment")
        elsewhere = process_batch(
            [
                InboundRecord(f"o:{i}", line(external_id=f"o{i}", text=t))
                for i, t in enumerate(texts)
            ],
            ctx,
        )
        store.write_batch(StoredBatch(elsewhere.posts, signatures=elsewhere.signatures))
        second = Worker(worker_env, tmp_path / "b.log")  # a rebalance: partitions move
        wait_for(
            lambda: rewarmed(tmp_path / "a.log") >= 2, what="the rebalance on the first worker"
        )
        assert second.stop() == 0, (tmp_path / "b.log").read_text()
        wait_for(lambda: rewarmed(tmp_path / "a.log") >= 3, what="the partitions coming back")
        repeats = [line(external_id=f"r{i}", text=t) for i, t in enumerate(texts)]
        produce(kafka_bootstrap, Topology(prefix=unique, partitions=3).raw, repeats)
        wait_for(lambda: count(store, "posts") == 2 * len(texts), what="the repeats stored")
    finally:
        assert first.stop() == 0, (tmp_path / "a.log").read_text()
    store._client.indices.refresh(index=store.index["posts"])
    exact = store._client.count(
        index=store.index["posts"], body={"query": {"term": {"duplicate_kind": "exact"}}}
    )["count"]
    assert exact == len(texts)  # every repeat caught; none classified as new
    assert count(store, "alerts") == 0  # the originals were stored without alerts; no new ones


def test_a_worker_embeds_each_new_post_as_the_embedded_run_does(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tiny_encoder_dir: Path, ctx: PipelineContext, tmp_path: Path,
) -> None:  # fmt: skip
    import dataclasses
    import shutil

    from classifiers.encoder.runtime import SentenceEncoder
    from stream_jobs.pipeline import InboundRecord, process_batch

    # an encoder in the worker's data dir: the embed stage turns on by itself (auto)
    shutil.copytree(tiny_encoder_dir, Path(worker_env["CANHBAO_DATA_DIR"]) / "models" / "encoder")
    topology = Topology(prefix=unique, partitions=3)
    records = [line(external_id=f"h{i}", text=t) for i, t in enumerate(HOSTILE)]
    records += [line(external_id=f"c{i}", text=t) for i, t in enumerate(CLEAN)]
    records += [line(external_id="again", text=HOSTILE[0].upper())]  # an exact repeat
    encoder = SentenceEncoder.load(tiny_encoder_dir)
    embedded = process_batch(
        [InboundRecord(f"r:{i}", r) for i, r in enumerate(records)],
        dataclasses.replace(ctx, embedder=encoder),
    )
    worker = Worker(worker_env, tmp_path / "worker.log")
    try:
        produce(kafka_bootstrap, topology.raw, records)
        store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
        wait_for(lambda: count(store, "posts") == len(records), what="every sighting stored")
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()
    stored = store.embeddings([p.post_id for p in [*embedded.posts, *embedded.duplicates]])
    assert set(stored) == set(embedded.embeddings)  # the first sightings, each once
    for post_id, vector in embedded.embeddings.items():
        assert stored[post_id].model == encoder.name
        # int8 activations are quantised per batch: other batches, nearly the same vector
        assert float(stored[post_id].vector @ vector.vector) > 0.99


def test_a_worker_attaches_a_published_claim_to_a_post_that_repeats_it(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    from datetime import date

    from alerting.accounts.roles import Role
    from alerting.claims.evaluate import LabelledQuery
    from alerting.claims.library import SqliteClaimLibrary
    from alerting.claims.training import LabelledSet, train_matcher
    from schemas import ClaimDraft, EvidenceKind, Rebuttal
    from tests.claims_data import CLAIMS, QUERIES

    # the matcher fitted as `train claims` does (lexical: no encoder here), and one claim that
    # a supervisor published, in the worker's data dir
    data_dir = Path(worker_env["CANHBAO_DATA_DIR"])
    queries = [LabelledQuery(f"q{i}", text, frozenset({gold} if gold else set()))
               for i, (text, gold) in enumerate(QUERIES)]  # fmt: skip
    train_matcher([LabelledSet("hand", CLAIMS, queries)], data_dir / "models" / "claims",
                  progress=lambda _: None)  # fmt: skip
    library = SqliteClaimLibrary(data_dir / "claims.db")
    claim = library.create(ClaimDraft(
        statement="Đập thủy điện Hòa Bình đã bị vỡ, nước lũ đang tràn về Hà Nội",
        rebuttal=Rebuttal(text="Đập an toàn, đang vận hành bình thường.", issuer="Bộ Công Thương",
                          url="https://moit.gov.vn/bac-bo", published_on=date(2026, 11, 30)),
    ), "user:lan")  # fmt: skip
    library.publish(claim.claim_id, "user:minh", Role.SUPERVISOR)
    library.close()
    repeat = ("Khẩn cấp! Đập thủy điện Hòa Bình đã bị vỡ, nước lũ đang tràn về Hà Nội,"
              " mọi người sơ tán ngay.")  # fmt: skip
    topology = Topology(prefix=unique, partitions=3)
    worker = Worker(worker_env, tmp_path / "worker.log")
    try:
        both = [line(external_id="r", text=repeat), line(external_id="c", text=CLEAN[0])]
        produce(kafka_bootstrap, topology.raw, both)
        store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
        wait_for(lambda: count(store, "posts") == 2, what="both posts stored")
    finally:
        assert worker.stop() == 0, (tmp_path / "worker.log").read_text()
    from alerting.store.base import AlertQuery

    found = {}
    for alert in store.list_alerts(AlertQuery(limit=20)).alerts:
        detail = store.get_alert(alert.alert_id)
        evidence = detail.classification.evidence if detail.classification else []
        found[detail.post.text] = [e.claim_id for e in evidence if e.kind is EvidenceKind.CLAIM]
    assert found.get(repeat) == [claim.claim_id]
    assert not any(ids for text, ids in found.items() if text != repeat)
