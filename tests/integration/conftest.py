"""Fixtures for the real services of `make stack-up`. In CI a missing service fails the run;
on a developer's machine the tests that need it are skipped with a hint."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from alerting.store import AlertStore, SQLiteStore
from alerting.store.opensearch import OpenSearchStore
from stream_jobs.backends.kafka import ensure_topics
from stream_jobs.topics import Topology
from tests.conftest import AUDIT_KEY

KAFKA = os.environ.get("CANHBAO_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
OPENSEARCH = os.environ.get("CANHBAO_OPENSEARCH_URL", "http://127.0.0.1:9250")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require(what: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{what} not reachable at {host}:{port}: run `make stack-up`"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI starts the stack: a missing service is a failure there
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    host, _, port = KAFKA.rpartition(":")
    _require("Kafka", host, int(port))
    return KAFKA


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    parsed = urlparse(OPENSEARCH)
    _require("OpenSearch", parsed.hostname or "127.0.0.1", parsed.port or 9200)
    return OPENSEARCH


@pytest.fixture(scope="session")
def es_url() -> str:
    """Elasticsearch 8 runs only where someone provides one: none can be fetched here."""
    url = os.environ.get("CANHBAO_ES_URL")
    if not url:
        pytest.skip("CANHBAO_ES_URL not set: no Elasticsearch 8 to test against")
    parsed = urlparse(url)
    _require("Elasticsearch", parsed.hostname or "127.0.0.1", parsed.port or 9200)
    return url


@pytest.fixture
def unique() -> str:
    """A name no other test uses: topics and indices are created per test."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "opensearch", "elasticsearch"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[AlertStore]:
    """A review store of each backend in turn (Elasticsearch 8 only where CANHBAO_ES_URL
    points at one), with its own file or indices, removed afterwards."""
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "store.db", audit_key=AUDIT_KEY)
        yield sqlite
        sqlite.close()
        return
    if request.param == "elasticsearch":
        from alerting.store.elasticsearch import ElasticsearchStore

        elastic = ElasticsearchStore.connect(
            request.getfixturevalue("es_url"), prefix=unique, refresh=True, audit_key=AUDIT_KEY
        )
        yield elastic
        elastic.delete_indices()
        elastic.close()
        return
    search = OpenSearchStore.connect(
        request.getfixturevalue("opensearch_url"), prefix=unique, refresh=True, audit_key=AUDIT_KEY
    )
    yield search
    search.delete_indices()
    search.close()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, list[Any], Path]]:
    """aiosmtpd with STARTTLS required, on a self-signed certificate made here."""
    from aiosmtpd.controller import Controller

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=free_port, tls_context=tls, require_starttls=True
    )
    controller.start()
    try:
        yield controller.port, received, cert
    finally:
        controller.stop()


@pytest.fixture
def env(tmp_path: Path, tiny_model_dir: Path, tiny_data: Path) -> dict[str, str]:
    """Environment for CLI runs: a fresh data dir, the tiny baseline, the tiny datasets, and
    no hub access (a test must never download a model)."""
    return {
        "CANHBAO_DATA_DIR": str(tmp_path / "var"),
        "CANHBAO_AUDIT_KEY": AUDIT_KEY.decode(),
        "CANHBAO_MODEL_DIR": str(tiny_model_dir),
        "CANHBAO_DATASETS_DIR": str(tiny_data),
        "CANHBAO_LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture
def worker_env(  # the environment of a `canhbao worker` on this test's topics and indices
    kafka_bootstrap: str, opensearch_url: str, unique: str, tiny_model_dir: Path, tmp_path: Path
) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "CANHBAO_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CANHBAO_OPENSEARCH_URL": opensearch_url,
        "CANHBAO_STORE_BACKEND": "opensearch",
        "CANHBAO_TOPIC_PREFIX": unique,
        "CANHBAO_INDEX_PREFIX": unique,
        "CANHBAO_TOPIC_PARTITIONS": "3",
        "CANHBAO_MODEL_DIR": str(tiny_model_dir),
        "CANHBAO_DATA_DIR": str(tmp_path / "var"),
        "CANHBAO_AUDIT_KEY": AUDIT_KEY.decode(),
        "CANHBAO_LOG_FORMAT": "text",
    }
    ensure_topics(kafka_bootstrap, Topology(prefix=unique, partitions=3).specs())
    yield env
    OpenSearchStore.connect(opensearch_url, prefix=unique, audit_key=AUDIT_KEY).delete_indices()
