"""Fault runs against the embedded run of the same input (reliability issue, "Done when").

One input — distinct posts, exact repeats under other ids, replays of the same post, malformed
lines — is run once through the embedded pipeline (in-process queue, SQLite): that is the
expected outcome. Then it goes through real Kafka → `canhbao worker` processes → real
OpenSearch while something fails: the worker is SIGKILLed, the store freezes mid-stream, the
broker restarts, one of two workers is killed. Each run must end with exactly the embedded
outcome: the same new posts, duplicate sightings, alerts and dead letters (none lost, none
extra from a repeat), one "alert.created" audit entry per alert, and every alert, classified
post and dead letter on its downstream topic. Workers run under a supervisor that restarts
one that exits, as Kubernetes or systemd would (`canhbao.faults`, shared with
`canhbao bench faults`, which repeats these faults on 20,000 posts)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerting.store import SQLiteStore
from alerting.store.opensearch import OpenSearchStore
from canhbao.faults import (
    StreamState,
    Supervisor,
    read_downstream,
    restart_kafka,
    sqlite_state,
    stream_state,
)
from canhbao.settings import Settings
from canhbao.wiring import build_context, load_classifier
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.pipeline import InboundRecord
from stream_jobs.topics import Topology
from tests.conftest import AUDIT_KEY, line
from tests.integration.workers import HOSTILE, opensearch_pid, produce, require_stack_pid

pytestmark = pytest.mark.integration

_SHORT_CLEAN = ["trời đẹp quá", "cảm ơn bạn nhiều", "mai đi chợ sớm nha"]


def _text(i: int) -> str:
    # Under 8 words each: near-duplicates (MinHash) are not keyed together, so two of them on
    # different partitions may be met in either order and either be "the original"; exact
    # repeats share a partition key and keep their order.
    return f"{HOSTILE[i % 3]} {i}" if i % 3 == 0 else f"{_SHORT_CLEAN[i % 3]} {i}"


def fault_input(n: int = 360) -> tuple[list[bytes], int]:
    """One in ten posts an exact repeat of an earlier one under another id, one in thirty a
    replay of an earlier post itself, malformed lines among them. Returns the records and the
    number of replays (stored once: neither a new post nor a sighting)."""
    records: list[bytes] = []
    replays = 0
    for i in range(n):
        if i % 10 == 9:
            records.append(line(external_id=f"repeat{i}", text=_text(i - 7)))
        elif i % 30 == 14:
            records.append(line(external_id=f"p{i - 11}", text=_text(i - 11)))
            replays += 1
        elif i % 45 == 22:
            records.append(b'{"platform": "facebook", "text": "thi' if i % 2 else b"\xff\xfe")
        else:
            records.append(line(external_id=f"p{i}", text=_text(i)))
    return records, replays


def embedded_outcome(
    records: list[bytes], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StreamState:
    """The same input through the embedded runner, with the worker's own settings."""
    for name, value in env.items():
        if name.startswith("CANHBAO_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    store = SQLiteStore(tmp_path / "embedded.db", audit_key=AUDIT_KEY)
    runner = EmbeddedRunner(
        build_context(settings, load_classifier(settings)), store, batch_size=32
    )
    runner.run(InboundRecord(f"input:{i}", data) for i, data in enumerate(records))
    state = sqlite_state(store)
    store.close()
    return state


def assert_matches_embedded(
    store: OpenSearchStore, bootstrap: str, topology: Topology, want: StreamState
) -> None:
    got = stream_state(store)
    assert got.posts == want.posts, "new posts lost or invented"
    assert got.sightings == want.sightings, "duplicate sightings lost, or repeats taken as new"
    assert got.alerts == want.alerts, "alerts lost, or extra alerts from repeats"
    assert got.dead_letters == want.dead_letters
    assert set(got.created) == want.alerts, "alerts without an audit entry"
    assert got.audited_twice == 0
    assert store.verify_audit_chain() == len(want.alerts)
    seen = read_downstream(bootstrap, topology, got)
    assert set(want.posts) - seen.classified == set(), "classified posts missing downstream"
    assert want.alerts - seen.alerts == set(), "alerts missing on the review topic"
    assert len(seen.dead_letters) == sum(want.dead_letters.values())


FaultRun = tuple[list[bytes], StreamState, OpenSearchStore, Topology]


@pytest.fixture
def fault_run(
    worker_env: dict[str, str], opensearch_url: str, unique: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FaultRun]:  # fmt: skip
    records, replays = fault_input()
    want = embedded_outcome(records, worker_env, tmp_path, monkeypatch)
    # A real test: every record accounted for, and alerts and repeats among them.
    assert len(want.stored) + sum(want.dead_letters.values()) + replays == len(records)
    assert want.alerts
    assert want.sightings
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    yield records, want, store, Topology(prefix=unique, partitions=3)
    store.close()


def _alerts(store: OpenSearchStore, at_least: int) -> Callable[[], bool]:
    return lambda: len(stream_state(store).alerts) >= at_least


def _all_stored(store: OpenSearchStore, want: StreamState) -> Callable[[], bool]:
    def done() -> bool:
        got = stream_state(store)
        return got.stored >= want.stored and len(got.alerts) >= len(want.alerts)

    return done


def _finish(
    supervisor: Supervisor, store: OpenSearchStore, fault: FaultRun, bootstrap: str
) -> None:
    _, want, _, topology = fault
    supervisor.wait(_all_stored(store, want), 180, "every record stored")
    time.sleep(2)  # any redelivered batch lands, to catch what it would double
    assert_matches_embedded(store, bootstrap, topology, want)


@contextlib.contextmanager
def supervised(env: dict[str, str], logs: Path, count: int = 1) -> Iterator[Supervisor]:
    """Workers for the test's body; at its end each must stop cleanly (exit 0 on SIGTERM)."""
    supervisor = Supervisor(env, logs, count=count)
    try:
        yield supervisor
    finally:
        assert supervisor.stop() == [0] * count, supervisor.logs()


def test_without_a_fault_the_stream_matches_the_embedded_run(
    fault_run: FaultRun, worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The control: the comparison itself holds when nothing fails."""
    records, _, store, topology = fault_run
    produce(kafka_bootstrap, topology.raw, records)
    with supervised(worker_env, tmp_path) as supervisor:
        _finish(supervisor, store, fault_run, kafka_bootstrap)
    assert supervisor.exits == []


def test_worker_sigkill_mid_stream_matches_the_embedded_run(
    fault_run: FaultRun, worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    records, _, store, topology = fault_run
    produce(kafka_bootstrap, topology.raw, records)
    with supervised(worker_env, tmp_path) as supervisor:
        for kills in range(1, 3):  # twice, each as soon as the stream has moved on
            supervisor.wait(_alerts(store, 5 * kills), 90, f"alerts before kill {kills}")
            supervisor.kill()
        _finish(supervisor, store, fault_run, kafka_bootstrap)


def test_store_freezing_mid_stream_matches_the_embedded_run(
    fault_run: FaultRun, worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    pid = opensearch_pid()
    records, _, store, topology = fault_run
    with supervised({**worker_env, "CANHBAO_OPENSEARCH_TIMEOUT_S": "2"}, tmp_path) as supervisor:
        produce(kafka_bootstrap, topology.raw, records)
        supervisor.wait(lambda: len(stream_state(store).posts) > 0, 90, "first posts")
        os.kill(pid, signal.SIGSTOP)  # batches are in flight: the store stops answering
        try:
            supervisor.wait(
                lambda: "store unavailable" in supervisor.logs(), 60, "the worker to notice"
            )
            time.sleep(3)
        finally:
            os.kill(pid, signal.SIGCONT)
        _finish(supervisor, store, fault_run, kafka_bootstrap)


def test_broker_restart_mid_stream_matches_the_embedded_run(
    fault_run: FaultRun, worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    pid = require_stack_pid("kafka", "restart")
    records, _, store, topology = fault_run
    half = len(records) // 2
    produce(kafka_bootstrap, topology.raw, records[:half])
    with supervised(worker_env, tmp_path) as supervisor:
        supervisor.wait(_alerts(store, 5), 90, "alerts")
        restart_kafka(pid)
        produce(kafka_bootstrap, topology.raw, records[half:])
        _finish(supervisor, store, fault_run, kafka_bootstrap)


def test_two_workers_one_killed_match_the_embedded_run(
    fault_run: FaultRun, worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    records, _, store, topology = fault_run
    with supervised(worker_env, tmp_path, count=2) as supervisor:
        # Both in the group before anything arrives, so the partitions are shared out.
        supervisor.wait(
            lambda: supervisor.logs().count("dedup index re-warmed") >= 2, 90, "both assigned"
        )
        produce(kafka_bootstrap, topology.raw, records)
        supervisor.wait(_alerts(store, 5), 90, "alerts")
        supervisor.kill(1)
        _finish(supervisor, store, fault_run, kafka_bootstrap)
