"""Running real `canhbao worker` processes in tests, and looking at what they wrote."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from alerting.store.opensearch import OpenSearchStore
from stream_jobs.backends.kafka import KafkaProducerBackend
from stream_jobs.topics import raw_record_key

HOSTILE = ["bọn bắc kỳ cút hết", "lũ tàu khựa đáng chết hết", "bọn mọi rợ đốt hết đi"]
CLEAN = ["hôm nay trời đẹp quá đi chơi thôi", "cảm ơn bạn đã chia sẻ thông tin hữu ích"]


class Worker:
    def __init__(self, env: dict[str, str], log: Path, *extra: str) -> None:
        self._log = log.open("ab")
        argv = ["worker", "--batch-size", "32", "--within", "0.2", *extra]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "canhbao", *argv],
            env=env,
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

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def produce(bootstrap: str, topic: str, records: list[bytes]) -> None:
    producer = KafkaProducerBackend(bootstrap)
    for data in records:
        producer.produce(topic, data, key=raw_record_key(data))
    producer.close()


def count(store: OpenSearchStore, name: str) -> int:
    store._client.indices.refresh(index=store.index[name])
    return int(store._client.count(index=store.index[name])["count"])


def opensearch_pid() -> int:
    """The pid of the OpenSearch that `deploy/local/stack.sh` started (CI always has one)."""
    stack = Path(os.environ.get("CANHBAO_STACK_DIR", Path(__file__).parents[2] / "var/stack"))
    pid_file = stack / "opensearch" / "pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        message = f"no OpenSearch started by stack.sh ({pid_file}): cannot freeze it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return pid
