"""Fault runs against the embedded run of the same input (reliability issue, "Done when").

One input — distinct posts, exact repeats under other ids, replays of the same post, malformed
lines — is run once through the embedded pipeline (in-process queue, SQLite): that is the
expected outcome. Then it goes through real Kafka → `canhbao worker` processes → real
OpenSearch while something fails: the worker is SIGKILLed, the store freezes mid-stream, the
broker restarts, one of two workers is killed. Each run must end with exactly the embedded
outcome: the same new posts, duplicate sightings, alerts and dead letters (none lost, none
extra from a repeat), one "alert.created" audit entry per alert, and every alert, classified
post and dead letter on its downstream topic. Workers run under a supervisor that restarts
one that exits, as Kubernetes or systemd would: a worker may exit 70 rather than acknowledge
a batch it could not finish, and the test holds it to that, not to staying up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alerting.store import SQLiteStore
from alerting.store.opensearch import OpenSearchStore
from canhbao.settings import Settings
from canhbao.wiring import build_context, load_classifier
from schemas import AuditAction, ClassifiedPost
from stream_jobs.backends.kafka import KafkaConsumerBackend
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.pipeline import InboundRecord
from stream_jobs.topics import Topology
from tests.conftest import AUDIT_KEY, line
from tests.integration.workers import HOSTILE, Worker, opensearch_pid, produce, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
STACK_DIR = Path(os.environ.get("CANHBAO_STACK_DIR", ROOT / "var/stack"))


def fault_input(n: int = 360) -> tuple[list[bytes], int]:
    """Posts under 8 words (matched exactly only, so the outcome does not hang on near-
    duplicate thresholds), one in ten an exact repeat of an earlier one under another id, one
    in thirty a replay of an earlier post itself, and malformed lines among them. Returns the
    records and the number of replays (stored once: neither a new post nor a sighting)."""
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


_SHORT_CLEAN = ["trời đẹp quá", "cảm ơn bạn nhiều", "mai đi chợ sớm nha"]


def _text(i: int) -> str:
    # Under 8 words each: near-duplicates (MinHash) are not keyed together, so two of them on
    # different partitions may be met in either order and either be "the original"; exact
    # repeats share a partition key and keep their order.
    return f"{HOSTILE[i % 3]} {i}" if i % 3 == 0 else f"{_SHORT_CLEAN[i % 3]} {i}"


@dataclass(frozen=True)
class Outcome:
    posts: frozenset[str]  # stored as new
    sightings: frozenset[str]  # stored as a duplicate of another post
    alerts: frozenset[str]
    dead_letters: Counter[str]  # by reason

    @property
    def records(self) -> int:
        return len(self.posts) + len(self.sightings) + sum(self.dead_letters.values())


def embedded_outcome(
    records: list[bytes], env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Outcome:
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
    rows = store._db.execute("SELECT post_id, duplicate_kind FROM posts").fetchall()
    alerts = store._db.execute("SELECT alert_id FROM alerts").fetchall()
    letters = store.dead_letters(limit=10_000)
    store.close()
    return Outcome(
        posts=frozenset(r[0] for r in rows if r[1] is None),
        sightings=frozenset(r[0] for r in rows if r[1] is not None),
        alerts=frozenset(r[0] for r in alerts),
        dead_letters=Counter(d.reason_code.value for d in letters),
    )


def _ids(store: OpenSearchStore, name: str, query: dict[str, Any]) -> frozenset[str]:
    store._client.indices.refresh(index=store.index[name])
    hits = store._client.search(
        index=store.index[name], body={"query": query, "size": 10_000, "_source": False}
    )["hits"]["hits"]
    return frozenset(h["_id"] for h in hits)


def stream_outcome(store: OpenSearchStore) -> Outcome:
    duplicate = {"exists": {"field": "duplicate_kind"}}
    return Outcome(
        posts=_ids(store, "posts", {"bool": {"must_not": duplicate}}),
        sightings=_ids(store, "posts", duplicate),
        alerts=_ids(store, "alerts", {"match_all": {}}),
        dead_letters=Counter(d.reason_code.value for d in store.dead_letters(limit=10_000)),
    )


class Supervisor:
    """Keeps `count` workers running, restarting any that exits (and recording its status)."""

    def __init__(self, env: dict[str, str], logs: Path, count: int = 1) -> None:
        self._env, self._logs = env, logs
        self.exits: list[int] = []
        self._started = 0
        self.workers = [self._start() for _ in range(count)]

    def _start(self) -> Worker:
        self._started += 1
        return Worker(self._env, self._logs / f"worker{self._started}.log")

    def tend(self) -> None:
        for i, worker in enumerate(self.workers):
            code = worker.exited()
            if code is not None:
                self.exits.append(code)
                self.workers[i] = self._start()

    def kill(self, index: int = 0) -> None:
        self.exits.append(self.workers[index].kill())
        self.workers[index] = self._start()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self._logs.glob("*.log"))

    def stop(self) -> list[int]:
        return [worker.stop(timeout=60) for worker in self.workers]


def wait_tended(
    supervisor: Supervisor, condition: Callable[[], bool], seconds: float, what: str
) -> None:
    def check() -> bool:
        supervisor.tend()
        return condition()

    try:
        wait_for(check, seconds=seconds, what=what)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}\n{supervisor.logs()}") from None


def downstream(bootstrap: str, topology: Topology, want: Outcome) -> dict[str, set[str]]:
    """Ids on the classified, review and dead-letter topics (read from the start)."""
    consumer = KafkaConsumerBackend(
        bootstrap,
        [topology.classified, topology.alerts, topology.dead_letters],
        f"faults-check-{time.monotonic_ns()}",
    )
    seen: dict[str, set[str]] = {"classified": set(), "alerts": set(), "dead_letters": set()}

    def complete() -> bool:
        for message in consumer.poll_batch(500, 0.5):
            body = json.loads(message.value)
            if message.topic == topology.classified:
                seen["classified"].add(
                    ClassifiedPost.model_validate_json(message.value).post.post_id
                )
            elif message.topic == topology.alerts:
                seen["alerts"].add(body["alert_id"])
            else:
                seen["dead_letters"].add(f"{body['origin']}\x1f{body['reason_code']}")
        return (
            seen["classified"] >= want.posts
            and seen["alerts"] >= want.alerts
            and len(seen["dead_letters"]) >= sum(want.dead_letters.values())
        )

    try:
        wait_for(complete, seconds=60, what="every message downstream")
    except AssertionError:
        pass  # the assertions below say what is missing
    finally:
        consumer.close()
    return seen


def assert_matches_embedded(
    store: OpenSearchStore, bootstrap: str, topology: Topology, want: Outcome
) -> None:
    got = stream_outcome(store)
    assert got.posts == want.posts, "new posts lost or invented"
    assert got.sightings == want.sightings, "duplicate sightings lost, or repeats taken as new"
    assert got.alerts == want.alerts, "alerts lost, or extra alerts from repeats"
    assert got.dead_letters == want.dead_letters
    assert store.verify_audit_chain() >= len(want.alerts)
    created = Counter(
        e.target for e in store.audit_log(limit=1000) if e.action is AuditAction.ALERT_CREATED
    )
    assert set(created) == want.alerts, "alerts without an audit entry"
    assert max(created.values()) == 1, "an alert audited twice"
    seen = downstream(bootstrap, topology, want)
    assert want.posts - seen["classified"] == set(), "classified posts missing downstream"
    assert want.alerts - seen["alerts"] == set(), "alerts missing on the review topic"
    assert len(seen["dead_letters"]) == sum(want.dead_letters.values())


@pytest.fixture
def fault_run(
    worker_env: dict[str, str], kafka_bootstrap: str, opensearch_url: str, unique: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[list[bytes], Outcome, OpenSearchStore, Topology]]:  # fmt: skip
    records, replays = fault_input()
    want = embedded_outcome(records, worker_env, tmp_path, monkeypatch)
    # A real test: every record accounted for, and alerts and repeats among them.
    assert want.records + replays == len(records)
    assert want.alerts
    assert want.sightings
    store = OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY)
    yield records, want, store, Topology(prefix=unique, partitions=3)
    store.close()


def _stored(store: OpenSearchStore, want: Outcome) -> Callable[[], bool]:
    def done() -> bool:
        got = stream_outcome(store)
        return got.records >= want.records and len(got.alerts) >= len(want.alerts)

    return done


def test_without_a_fault_the_stream_matches_the_embedded_run(
    fault_run: tuple[list[bytes], Outcome, OpenSearchStore, Topology],
    worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path,
) -> None:  # fmt: skip
    """The control: the comparison itself holds when nothing fails."""
    records, want, store, topology = fault_run
    produce(kafka_bootstrap, topology.raw, records)
    supervisor = Supervisor(worker_env, tmp_path)
    try:
        wait_tended(supervisor, _stored(store, want), 120, "every record stored")
        assert_matches_embedded(store, kafka_bootstrap, topology, want)
    finally:
        assert supervisor.stop() == [0], supervisor.logs()
    assert supervisor.exits == []


def test_worker_sigkill_mid_stream_matches_the_embedded_run(
    fault_run: tuple[list[bytes], Outcome, OpenSearchStore, Topology],
    worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path,
) -> None:  # fmt: skip
    records, want, store, topology = fault_run
    produce(kafka_bootstrap, topology.raw, records)
    supervisor = Supervisor(worker_env, tmp_path)
    try:
        for kills in range(1, 3):  # twice, each as soon as the stream has moved on
            wait_tended(
                supervisor,
                lambda k=kills: len(stream_outcome(store).alerts) >= 5 * k,  # type: ignore[misc]
                90,
                f"alerts before kill {kills}",
            )
            supervisor.kill()
        wait_tended(supervisor, _stored(store, want), 120, "every record stored")
        time.sleep(2)  # any redelivered batch lands, to catch what it would double
        assert_matches_embedded(store, kafka_bootstrap, topology, want)
    finally:
        assert supervisor.stop() == [0], supervisor.logs()


def test_store_freezing_mid_stream_matches_the_embedded_run(
    fault_run: tuple[list[bytes], Outcome, OpenSearchStore, Topology],
    worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path,
) -> None:  # fmt: skip
    pid = opensearch_pid()
    records, want, store, topology = fault_run
    env = {**worker_env, "CANHBAO_OPENSEARCH_TIMEOUT_S": "2"}
    supervisor = Supervisor(env, tmp_path)
    try:
        produce(kafka_bootstrap, topology.raw, records)
        wait_tended(supervisor, lambda: len(stream_outcome(store).posts) > 0, 90, "first posts")
        os.kill(pid, signal.SIGSTOP)  # batches are in flight: the store stops answering
        try:
            wait_tended(
                supervisor,
                lambda: "store unavailable" in supervisor.logs(),
                60,
                "the worker to notice the outage",
            )
            time.sleep(3)
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_tended(supervisor, _stored(store, want), 120, "every record stored")
        time.sleep(2)
        assert_matches_embedded(store, kafka_bootstrap, topology, want)
    finally:
        assert supervisor.stop() == [0], supervisor.logs()


def _kafka_pid() -> int:
    pid_file = STACK_DIR / "kafka" / "pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        message = f"no Kafka started by stack.sh ({pid_file}): cannot restart it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return pid


def _restart_kafka(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    subprocess.run(
        [str(ROOT / "deploy/local/stack.sh"), "up"],
        check=True,
        capture_output=True,
        env={**os.environ, "CANHBAO_STACK_DIR": str(STACK_DIR)},
        timeout=180,
    )


def test_broker_restart_mid_stream_matches_the_embedded_run(
    fault_run: tuple[list[bytes], Outcome, OpenSearchStore, Topology],
    worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path,
) -> None:  # fmt: skip
    pid = _kafka_pid()
    records, want, store, topology = fault_run
    half = len(records) // 2
    produce(kafka_bootstrap, topology.raw, records[:half])
    supervisor = Supervisor(worker_env, tmp_path)
    try:
        wait_tended(supervisor, lambda: len(stream_outcome(store).alerts) >= 5, 90, "alerts")
        _restart_kafka(pid)
        produce(kafka_bootstrap, topology.raw, records[half:])
        wait_tended(supervisor, _stored(store, want), 180, "every record stored")
        time.sleep(2)
        assert_matches_embedded(store, kafka_bootstrap, topology, want)
    finally:
        codes = supervisor.stop()
        assert codes == [0], supervisor.logs()


def test_two_workers_one_killed_match_the_embedded_run(
    fault_run: tuple[list[bytes], Outcome, OpenSearchStore, Topology],
    worker_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path,
) -> None:  # fmt: skip
    records, want, store, topology = fault_run
    supervisor = Supervisor(worker_env, tmp_path, count=2)
    try:
        # Both in the group before anything arrives, so the partitions are shared out.
        wait_tended(
            supervisor,
            lambda: supervisor.logs().count("dedup index re-warmed") >= 2,
            90,
            "both workers assigned",
        )
        produce(kafka_bootstrap, topology.raw, records)
        wait_tended(supervisor, lambda: len(stream_outcome(store).alerts) >= 5, 90, "alerts")
        supervisor.kill(1)
        wait_tended(supervisor, _stored(store, want), 120, "every record stored")
        time.sleep(2)
        assert_matches_embedded(store, kafka_bootstrap, topology, want)
    finally:
        assert supervisor.stop() == [0, 0], supervisor.logs()
