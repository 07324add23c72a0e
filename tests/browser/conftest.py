"""Shared by the browser tests: Debian's Chromium, and the review service on a real uvicorn
server on 127.0.0.1 with three alerts."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.store import SQLiteStore, StoredBatch
from alerting.web import mount_review_ui
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from tests.conftest import AUDIT_KEY, FAST_HASHER, line

PASSWORD = "mat-khau-du-dai-123"
ATTACKER_PASSWORD = "ke-dich-doi-mat-khau-7"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    message = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def site(tmp_path: Path, ctx: PipelineContext) -> Iterator[tuple[str, SQLiteStore, list[str]]]:
    store = SQLiteStore(tmp_path / "store.db", audit_key=AUDIT_KEY)
    result = process_batch(
        [
            InboundRecord("b:1", line(external_id="1", text="bọn bắc kỳ cút hết về quê đi")),
            InboundRecord("b:2", line(external_id="2", text="lũ tàu khựa đáng chết hết")),
            InboundRecord(
                "b:3", line(external_id="3", text="ngu vãi cả chưởng, câm mồm đi đồ ngu")
            ),
        ],
        ctx,
    )
    store.write_batch(StoredBatch(result.posts, (), result.classifications, result.alerts))
    accounts = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    # An account the attacker holds: the login-CSRF test tries to sign the victim in as it.
    accounts.add_user("kedich", ATTACKER_PASSWORD, Role.ANALYST)
    app = create_app(store, accounts=accounts, destinations=("cong_an", "so_tttt"))
    mount_review_ui(
        app,
        store,
        accounts,
        ("cong_an", "so_tttt"),
        secure_cookies=True,
        digests_dir=tmp_path / "digests",
    )
    with served(app) as base:
        yield base, store, [a.alert_id for a in result.alerts]
    store.close()


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` on a real uvicorn server on a free 127.0.0.1 port, for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the review service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
