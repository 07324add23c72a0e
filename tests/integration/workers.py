"""Running real `canhbao worker` processes in tests, and looking at what they wrote."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import pytest

from alerting.store.opensearch import OpenSearchStore
from canhbao.faults import WorkerProcess, stack_pid, wait_until
from stream_jobs.backends.kafka import KafkaProducerBackend
from stream_jobs.topics import raw_record_key

HOSTILE = ["bọn bắc kỳ cút hết", "lũ tàu khựa đáng chết hết", "bọn mọi rợ đốt hết đi"]
CLEAN = ["hôm nay trời đẹp quá đi chơi thôi", "cảm ơn bạn đã chia sẻ thông tin hữu ích"]


Worker = WorkerProcess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float = 90, what: str = "") -> None:
    try:
        wait_until(condition, seconds, what)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def produce(bootstrap: str, topic: str, records: list[bytes]) -> None:
    producer = KafkaProducerBackend(bootstrap)
    for data in records:
        producer.produce(topic, data, key=raw_record_key(data))
    producer.close()


def count(store: OpenSearchStore, name: str) -> int:
    store._client.indices.refresh(index=store.index[name])
    return int(store._client.count(index=store.index[name])["count"])


def require_stack_pid(service: str, why: str) -> int:
    """The pid of the `service` that `deploy/local/stack.sh` started (CI always has one)."""
    pid = stack_pid(service)
    if pid is None:
        message = f"no {service} started by deploy/local/stack.sh: cannot {why} it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return pid


def opensearch_pid() -> int:
    return require_stack_pid("opensearch", "freeze")
