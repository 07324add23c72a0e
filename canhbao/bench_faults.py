"""`canhbao bench faults`: the fault tests' faults, one after another, on a large input.

The input is `--posts` synthetic posts (about 5% re-posts of earlier ones) with a malformed
line in every hundred and a replay of an earlier record in every fifty. It runs once through
the embedded pipeline (SQLite) for the expected outcome, then is produced to Kafka and
consumed by two `canhbao worker` processes under a supervisor while, as the store fills: one
worker is SIGKILLed, OpenSearch is frozen for 5 s, the broker is restarted, the other worker
is SIGKILLed. The counts printed are the goals' terms: posts lost, dead letters lost, exact
repeats stored as new, alerts without or with two "alert.created" entries, and stored posts,
alerts and dead letters missing downstream. Near-duplicates on different partitions can be
met in either order, so which copy is "the original" (and so the alerts' ids) may differ from
the embedded run's; the counts above do not depend on it, and the alert totals of both runs
are printed for comparison."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alerting.store import SQLiteStore
from alerting.store.opensearch import OpenSearchStore
from canhbao.faults import (
    StreamState,
    Supervisor,
    freeze,
    read_downstream,
    restart_kafka,
    sqlite_state,
    stack_pid,
    stream_state,
)
from canhbao.settings import Settings, load_audit_key
from canhbao.synthetic import synthetic_posts
from canhbao.wiring import build_context, load_classifier
from stream_jobs.backends.kafka import KafkaProducerBackend, ensure_topics
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.pipeline import InboundRecord
from stream_jobs.topics import Topology, raw_record_key

__all__ = ["bench_faults", "fault_records"]


def fault_records(posts: int) -> list[bytes]:
    records: list[bytes] = []
    for i, data in enumerate(synthetic_posts(posts, seed=3)):
        records.append(data)
        if i % 100 == 50:
            records.append(
                b'{"platform": "facebook", "text": "c\\u1eaft ngang' if i % 200 else b"\xc3("
            )
        if i % 50 == 25:
            records.append(records[i // 2])  # the same record again, as a collector retry would
    return records


def _expected(settings: Settings, records: list[bytes], batch_size: int) -> StreamState:
    with tempfile.TemporaryDirectory(prefix="canhbao-faults-") as tmp:
        store = SQLiteStore(Path(tmp) / "expected.db", audit_key=secrets.token_bytes(32))
        ctx = build_context(settings, load_classifier(settings))
        runner = EmbeddedRunner(ctx, store, batch_size=batch_size)
        runner.run(InboundRecord(f"input:{i}", data) for i, data in enumerate(records))
        state = sqlite_state(store)
        store.close()
    return state


def bench_faults(settings: Settings, posts: int, log_dir: Path) -> dict[str, float]:
    records = fault_records(posts)
    started = time.monotonic()
    want = _expected(settings, records, 32)
    print(
        f"expected (embedded, {time.monotonic() - started:.0f} s): {len(records)} records →"
        f" {len(want.posts)} new, {len(want.sightings)} duplicates,"
        f" {sum(want.dead_letters.values())} dead letters, {len(want.alerts)} alerts"
    )
    prefix = f"faults{secrets.token_hex(4)}"
    topology = Topology(prefix=prefix, partitions=settings.topic_partitions)
    ensure_topics(settings.kafka_bootstrap, topology.specs())
    store = OpenSearchStore.connect(
        settings.opensearch_url, prefix=prefix, audit_key=load_audit_key(settings)
    )
    producer = KafkaProducerBackend(settings.kafka_bootstrap)
    for data in records:
        producer.produce(topology.raw, data, key=raw_record_key(data))
    producer.close()
    env = {
        **os.environ,
        "CANHBAO_STORE_BACKEND": "opensearch",
        "CANHBAO_TOPIC_PREFIX": prefix,
        "CANHBAO_INDEX_PREFIX": prefix,
        "CANHBAO_OPENSEARCH_TIMEOUT_S": "5",
        "CANHBAO_LOG_FORMAT": "json",
        "CANHBAO_LOG_LEVEL": "WARNING",
    }
    expected_stored = len(want.stored)

    def stored_fraction() -> float:
        store._client.indices.refresh(index=store.index["posts"])
        count = int(store._client.count(index=store.index["posts"])["count"])
        return count / expected_stored

    faults: list[tuple[float, str, Callable[[], None]]] = [
        (0.15, "SIGKILL worker 1", lambda: supervisor.kill(0)),
        (0.35, "OpenSearch frozen 5 s", _with_pid("opensearch", lambda pid: freeze(pid, 5))),
        (0.55, "Kafka restarted", _with_pid("kafka", restart_kafka)),
        (0.75, "SIGKILL worker 2", lambda: supervisor.kill(1)),
    ]
    supervisor = Supervisor(env, log_dir / prefix, count=2)
    try:
        for at, name, inject in faults:
            supervisor.wait(lambda at=at: stored_fraction() >= at, 1800, f"{at:.0%} stored")  # type: ignore[misc]
            print(f"{stored_fraction():.0%} stored: {name}", flush=True)
            inject()
        supervisor.wait(lambda: stored_fraction() >= 1.0, 1800, "every post stored")
        time.sleep(5)  # redelivered batches land: what they would double is counted too
        got = stream_state(store)
        seen = read_downstream(settings.kafka_bootstrap, topology, got, seconds=120)
    finally:
        codes = supervisor.stop()
        store.delete_indices()
        store.close()
    result = {
        "records": float(len(records)),
        "lost_posts": float(len(want.stored - got.stored)),
        "lost_dead_letters": float(
            max(0, sum(want.dead_letters.values()) - sum(got.dead_letters.values()))
        ),
        "repeats_taken_as_new": float(got.repeats_taken_as_new),
        "unaudited_alerts": float(got.unaudited),
        "alerts_audited_twice": float(got.audited_twice),
        "missing_classified": float(len(set(got.posts) - seen.classified)),
        "missing_review": float(len(got.alerts - seen.alerts)),
        "missing_dead_letters": float(
            max(0, sum(got.dead_letters.values()) - len(seen.dead_letters))
        ),
        "alerts_expected": float(len(want.alerts)),
        "alerts": float(len(got.alerts)),
        "worker_exits": float(len(supervisor.exits)),
        "clean_stops": float(codes.count(0)),
    }
    print(
        f"stream: {len(got.posts)} new, {len(got.sightings)} duplicates,"
        f" {sum(got.dead_letters.values())} dead letters, {len(got.alerts)} alerts;"
        f" worker exits {supervisor.exits}, final stops {codes}"
    )
    return result


def _with_pid(service: str, act: Callable[[int], None]) -> Callable[[], None]:
    def inject() -> None:
        pid = stack_pid(service)
        if pid is None:
            print(f"  skipped: no {service} started by deploy/local/stack.sh")
            return
        act(pid)

    return inject
