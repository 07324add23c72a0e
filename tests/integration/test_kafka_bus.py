"""The Kafka bus backend against a real broker (`make stack-up`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from alerting.store import SQLiteStore
from stream_jobs.backends.abstract import Message
from stream_jobs.backends.kafka import (
    KafkaConsumerBackend,
    KafkaProducerBackend,
    ensure_topics,
    wait_until_reachable,
)
from stream_jobs.exceptions import BusError
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch
from stream_jobs.topics import SCHEMA_HEADER, Topology, raw_post_key
from tests.conftest import AUDIT_KEY, line

pytestmark = pytest.mark.integration


def drain(consumer: KafkaConsumerBackend, want: int, seconds: float = 20.0) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        got += consumer.poll_batch(max_records=500, timeout_s=0.5)
    return got


@pytest.fixture
def topology(kafka_bootstrap: str, unique: str) -> Topology:
    topology = Topology(prefix=unique, partitions=3)
    ensure_topics(kafka_bootstrap, topology.specs())
    return topology


def test_topics_are_created_once_with_their_partitions(
    kafka_bootstrap: str, topology: Topology
) -> None:
    assert ensure_topics(kafka_bootstrap, topology.specs()) == []  # idempotent
    probe = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert probe.partitions_for_topic(topology.raw) == {0, 1, 2}
        assert probe.partitions_for_topic(topology.dead_letters) == {0}
        assert probe.partitions_for_topic(topology.destination("cong_an")) == {0}
    finally:
        probe.close()


def test_round_trip_commit_and_redelivery(kafka_bootstrap: str, topology: Topology) -> None:
    producer = KafkaProducerBackend(kafka_bootstrap)
    for i in range(40):
        producer.produce(topology.raw, f"tin {i}".encode(), key=str(i % 7).encode(),
                         headers={SCHEMA_HEADER: "raw_post/1"})  # fmt: skip
    producer.close()

    first = KafkaConsumerBackend(kafka_bootstrap, [topology.raw], group_id="g1")
    got = drain(first, 40)
    assert sorted(m.value for m in got) == sorted(f"tin {i}".encode() for i in range(40))
    assert {m.headers[SCHEMA_HEADER] for m in got} == {"raw_post/1"}
    first.commit()
    first.close()

    # Same group after a commit: nothing is delivered again.
    again = KafkaConsumerBackend(kafka_bootstrap, [topology.raw], group_id="g1")
    assert drain(again, 1, seconds=4.0) == []
    again.close()
    # An uncommitted group sees everything: at least once.
    other = KafkaConsumerBackend(kafka_bootstrap, [topology.raw], group_id="g2")
    assert len(drain(other, 40)) == 40
    other.close()


def test_same_text_lands_on_one_partition(kafka_bootstrap: str, topology: Topology) -> None:
    producer = KafkaProducerBackend(kafka_bootstrap)
    for variant in ["Hoà bình", "hòa bình", "HÒA   BÌNH", "hoa binh"]:
        producer.produce(topology.raw, variant.encode(), key=raw_post_key(variant))
    producer.close()
    consumer = KafkaConsumerBackend(kafka_bootstrap, [topology.raw], group_id="keys")
    got = drain(consumer, 4)
    consumer.close()
    assert len({m.partition for m in got}) == 1


def test_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(BusError, match=r"cannot reach Kafka at 127\.0\.0\.1:1\b"):
        KafkaProducerBackend("127.0.0.1:1")


def test_the_same_stage_functions_run_over_kafka(
    kafka_bootstrap: str,
    topology: Topology,
    ctx: PipelineContext,
    tmp_path: Path,
) -> None:
    producer = KafkaProducerBackend(kafka_bootstrap)
    posts = [
        line(external_id="1", text="bọn bắc kỳ cút hết về quê đi"),
        line(external_id="2", text="cảm ơn bạn đã chia sẻ thông tin hữu ích"),
        b"{broken",
        line(external_id="1", text="bọn bắc kỳ cút hết về quê đi"),
    ]
    for data in posts:
        producer.produce(topology.raw, data)
    producer.close()
    store = SQLiteStore(tmp_path / "s.db", audit_key=AUDIT_KEY)
    consumer = KafkaConsumerBackend(kafka_bootstrap, [topology.raw], group_id="worker")
    messages = drain(consumer, len(posts))
    result = process_batch([InboundRecord(m.origin, m.value) for m in messages], ctx)
    store.write_batch(stored_batch(result))
    consumer.commit()
    consumer.close()
    assert result.accounted == 4
    assert len(result.alerts) == 1
    [letter] = store.dead_letters()
    assert letter.origin.startswith(f"{topology.raw}/")
    store.close()


def test_waiting_for_an_absent_broker_retries_then_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock[0] += seconds

    with pytest.raises(BusError, match=r"cannot reach Kafka at 127\.0\.0\.1:1\b"):
        wait_until_reachable("127.0.0.1:1", 10.0, sleep=sleep, clock=lambda: clock[0])
    assert pauses == [1.0, 2.0, 4.0, 3.0]  # backed off, and never past the deadline
    assert sum("retrying in" in r.getMessage() for r in caplog.records) == 4


def test_worker_without_kafka_exits_with_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "CANHBAO_KAFKA_BOOTSTRAP": "127.0.0.1:1", "CANHBAO_LOG_FORMAT": "text"}
    done = subprocess.run(
        [sys.executable, "-m", "canhbao", "worker", "--wait-for-kafka", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "retrying in" in done.stderr
    assert "error: cannot reach Kafka at 127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr
