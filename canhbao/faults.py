"""Fault runs on the local stack, shared by `canhbao bench faults` and the fault tests.

Worker processes under a supervisor that restarts one that exits (as Kubernetes or systemd
would: a worker may exit 70 rather than acknowledge a batch it could not finish), the stack's
own processes to kill, freeze and restart, and what a run left behind — in the store and on
the downstream topics — in the terms the reliability goals are stated in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from alerting.store import SQLiteStore
from alerting.store.opensearch import OpenSearchStore
from schemas import AuditAction, ClassifiedPost
from stream_jobs.backends.kafka import KafkaConsumerBackend
from stream_jobs.topics import Topology

__all__ = [
    "Downstream",
    "StreamState",
    "Supervisor",
    "WorkerProcess",
    "freeze",
    "read_downstream",
    "restart_kafka",
    "sqlite_state",
    "stack_pid",
    "stream_state",
    "wait_until",
]

ROOT = Path(__file__).resolve().parents[1]


def stack_dir() -> Path:
    return Path(os.environ.get("CANHBAO_STACK_DIR", ROOT / "var/stack"))


def stack_pid(service: str) -> int | None:
    """The pid of the `service` that `deploy/local/stack.sh` started, if it is running."""
    try:
        pid = int((stack_dir() / service / "pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def freeze(pid: int, seconds: float) -> None:
    """Stop a process answering (SIGSTOP) for `seconds`: an outage that drops no connection."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def restart_kafka(pid: int, timeout_s: float = 60) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after `timeout_s`) and start it again."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    subprocess.run(  # noqa: S603 -- our own script, by its fixed path
        [str(ROOT / "deploy/local/stack.sh"), "up"],
        check=True,
        capture_output=True,
        env={**os.environ, "CANHBAO_STACK_DIR": str(stack_dir())},
        timeout=180,
    )


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.5)


_READY = b"[^GracefulWorker]: Ready"


class WorkerProcess:
    """One `canhbao worker`, its output appended to `log`."""

    def __init__(self, env: Mapping[str, str], log: Path, *extra: str) -> None:
        self._path = log
        self._log: IO[bytes] = log.open("ab")
        argv = ["worker", "--batch-size", "32", "--within", "0.2", *extra]
        self.process = subprocess.Popen(  # noqa: S603 -- our own CLI, options from our code
            [sys.executable, "-m", "canhbao", *argv],
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> int:
        self.process.kill()
        code = self.process.wait()
        self._log.close()
        return code

    def exited(self) -> int | None:
        """Its exit status once it has exited (its log then closed), else None."""
        code = self.process.poll()
        if code is not None:
            self._log.close()
        return code

    def ready(self) -> bool:
        """Faust has started it: its signal handlers are installed."""
        return _READY in self._path.read_bytes()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal it once it is ready and wait; one that does not stop in time is killed
        (nothing is left running past the caller), and the timeout is raised. A worker just
        restarted is still importing: a signal then meets Python's default handler (-15), not
        the worker's shutdown, so it is given up to `timeout` to become ready first."""
        deadline = time.monotonic() + timeout
        while not self.ready() and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self._log.close()


class Supervisor:
    """Keeps `count` workers running, restarting any that exits, and records how each ended."""

    def __init__(
        self, env: Mapping[str, str], logs: Path, count: int = 1, extra: tuple[str, ...] = ()
    ) -> None:
        self._env, self._logs, self._extra = env, logs, extra
        logs.mkdir(parents=True, exist_ok=True)
        self.exits: list[int] = []
        self._started = 0
        self.workers = [self._start() for _ in range(count)]

    def _start(self) -> WorkerProcess:
        self._started += 1
        return WorkerProcess(self._env, self._logs / f"worker{self._started}.log", *self._extra)

    def tend(self) -> None:
        for i, worker in enumerate(self.workers):
            code = worker.exited()
            if code is not None:
                self.exits.append(code)
                self.workers[i] = self._start()

    def kill(self, index: int = 0) -> None:
        self.exits.append(self.workers[index].kill())
        self.workers[index] = self._start()

    def wait(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        """Wait for `condition`, restarting workers that exit meanwhile."""

        def check() -> bool:
            self.tend()
            return condition()

        try:
            wait_until(check, seconds, what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.logs()}") from None

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-tail:] for p in sorted(self._logs.glob("*.log"))
        )

    def stop(self) -> list[int]:
        return [worker.stop(timeout=60) for worker in self.workers]


@dataclass(frozen=True)
class StreamState:
    """What a stream run left in the store."""

    posts: dict[str, str]  # new posts: id → content hash
    sightings: frozenset[str]  # stored as a duplicate of another post
    alerts: frozenset[str]
    dead_letters: Counter[str]  # by reason
    created: Counter[str]  # "alert.created" audit entries per alert

    @property
    def stored(self) -> frozenset[str]:
        return frozenset(self.posts) | self.sightings

    @property
    def repeats_taken_as_new(self) -> int:
        """New posts whose exact text another new post has: a duplicate the run missed.
        Independent of which copy came first, so it holds on any partitioning."""
        per_hash = Counter(self.posts.values())
        return sum(n - 1 for n in per_hash.values())

    @property
    def unaudited(self) -> int:
        return len(self.alerts - set(self.created))

    @property
    def audited_twice(self) -> int:
        return sum(1 for n in self.created.values() if n > 1)


# A unique field to page by in each index (sorting on `_id` is deprecated: a warning).
_PAGE_BY = {"posts": "post_id", "alerts": "alert_id", "audit": "seq"}
_PAGE = 5000


def _hits(store: OpenSearchStore, name: str, query: dict[str, Any], source: list[str]) -> list[Any]:
    """Every matching document (paged where the index has a unique field), after a refresh."""
    store._client.indices.refresh(index=store.index[name])
    key = _PAGE_BY.get(name)
    hits: list[Any] = []
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"query": query, "size": _PAGE if key else 10_000}
        body["_source"] = source
        if key:
            body["sort"] = [{key: "asc"}]
        if after is not None:
            body["search_after"] = after
        page = store._client.search(index=store.index[name], body=body)["hits"]["hits"]
        hits += page
        if not key or len(page) < _PAGE:
            return hits
        after = page[-1]["sort"]


def stream_state(store: OpenSearchStore) -> StreamState:
    duplicate = {"exists": {"field": "duplicate_kind"}}
    new = _hits(store, "posts", {"bool": {"must_not": duplicate}}, ["content_hash"])
    sightings = _hits(store, "posts", duplicate, [])
    alerts = _hits(store, "alerts", {"match_all": {}}, [])
    letters = _hits(store, "deadletters", {"match_all": {}}, ["reason_code"])
    created = _hits(
        store, "audit", {"term": {"action": AuditAction.ALERT_CREATED.value}}, ["target"]
    )
    return StreamState(
        posts={h["_id"]: h["_source"]["content_hash"] for h in new},
        sightings=frozenset(h["_id"] for h in sightings),
        alerts=frozenset(h["_id"] for h in alerts),
        dead_letters=Counter(h["_source"]["reason_code"] for h in letters),
        created=Counter(h["_source"]["target"] for h in created),
    )


def sqlite_state(store: SQLiteStore) -> StreamState:
    """The same picture of an embedded run (the expected outcome)."""
    db = store._db
    rows = db.execute("SELECT post_id, content_hash, duplicate_kind FROM posts").fetchall()
    created = db.execute(
        "SELECT target FROM audit_log WHERE action = ?", (AuditAction.ALERT_CREATED.value,)
    ).fetchall()
    return StreamState(
        posts={pid: digest for pid, digest, kind in rows if kind is None},
        sightings=frozenset(pid for pid, _, kind in rows if kind is not None),
        alerts=frozenset(r[0] for r in db.execute("SELECT alert_id FROM alerts")),
        dead_letters=Counter(
            r[0] for r in db.execute("SELECT reason_code FROM dead_letters").fetchall()
        ),
        created=Counter(r[0] for r in created),
    )


@dataclass
class Downstream:
    classified: set[str] = field(default_factory=set)  # post ids
    alerts: set[str] = field(default_factory=set)
    dead_letters: set[str] = field(default_factory=set)  # origin + reason: one per record


def read_downstream(
    bootstrap: str, topology: Topology, state: StreamState, seconds: float = 60
) -> Downstream:
    """The downstream topics read from the start, until they hold everything `state` implies
    or `seconds` pass (what is still missing is then the finding)."""
    consumer = KafkaConsumerBackend(
        bootstrap,
        [topology.classified, topology.alerts, topology.dead_letters],
        f"faults-check-{time.monotonic_ns()}",
    )
    seen = Downstream()
    letters = sum(state.dead_letters.values())

    def complete() -> bool:
        for message in consumer.poll_batch(2000, 0.5):
            if message.topic == topology.classified:
                seen.classified.add(ClassifiedPost.model_validate_json(message.value).post.post_id)
            elif message.topic == topology.alerts:
                seen.alerts.add(json.loads(message.value)["alert_id"])
            else:
                body = json.loads(message.value)
                seen.dead_letters.add(f"{body['origin']}\x1f{body['reason_code']}")
        return (
            seen.classified >= set(state.posts)
            and seen.alerts >= state.alerts
            and len(seen.dead_letters) >= letters
        )

    try:
        wait_until(complete, seconds, "every message downstream")
    except TimeoutError:
        pass
    finally:
        consumer.close()
    return seen
