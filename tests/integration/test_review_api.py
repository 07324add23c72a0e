"""The review API: authentication, queue, evidence, decisions, conflicts, audit — over both
store backends (SQLite, and the real OpenSearch of `make stack-up`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.store import AlertStore, StoredBatch
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from tests.conftest import FAST_HASHER, PASSWORD, line
from tests.integration.helpers import store_texts

pytestmark = pytest.mark.integration

# Markup is refused at intake; what survives is script-like text, which must stay inert data.
SCRIPT = "javascript:alert('x') \" onerror=alert(1) x=\""


@pytest.fixture
def store(any_store: AlertStore) -> AlertStore:
    return any_store


@pytest.fixture
def alert_ids(store: AlertStore, ctx: PipelineContext) -> list[str]:
    ids = store_texts(store, ctx, ["bọn bắc kỳ cút hết về quê đi", "lũ tàu khựa đáng chết hết"])
    assert len(ids) == 2
    return ids


Auth = dict[str, dict[str, str]]


@pytest.fixture
def accounts(tmp_path: Path) -> AccountStore:
    """lan analyses; minh supervises (reads the audit log). Each gets an API token."""
    store = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    store.add_user("lan", PASSWORD, Role.ANALYST)
    store.add_user("minh", PASSWORD, Role.SUPERVISOR)
    return store


@pytest.fixture
def auth(accounts: AccountStore) -> Auth:
    return {
        name: {"Authorization": f"Bearer {accounts.issue_token(name, 'tests')[1]}"}
        for name in ("lan", "minh")
    }


@pytest.fixture
def client(store: AlertStore, accounts: AccountStore) -> TestClient:
    app = create_app(store, accounts=accounts, destinations=("cong_an", "so_tttt"))
    return TestClient(app)


def test_requests_without_a_known_token_are_refused(client: TestClient) -> None:
    assert client.get("/api/alerts").status_code == 401
    bad = client.get("/api/alerts", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert client.get("/healthz").status_code == 200


def test_queue_lists_and_filters(auth: Auth, client: TestClient, alert_ids: list[str]) -> None:
    page = client.get("/api/alerts", headers=auth["lan"]).json()
    assert {a["alert_id"] for a in page["alerts"]} == set(alert_ids)
    assert page["alerts"][0]["created_at_local"].endswith("+07:00")
    assert client.get("/api/alerts?label=spam", headers=auth["lan"]).json()["alerts"] == []
    assert client.get("/api/alerts?label=nonsense", headers=auth["lan"]).status_code == 422
    naive = client.get("/api/alerts?since=2026-11-29T08:00:00", headers=auth["lan"])
    assert naive.status_code == 422
    assert "timezone" in naive.text


def test_detail_shows_evidence_and_no_author(
    auth: Auth, client: TestClient, alert_ids: list[str]
) -> None:
    detail = client.get(f"/api/alerts/{alert_ids[0]}", headers=auth["lan"]).json()
    assert detail["post"]["url"].startswith("https://")
    assert detail["classification"]["scores"]["hate"] > 0
    assert detail["classification"]["evidence"]
    assert "author_ref" not in str(detail)
    assert [e["action"] for e in detail["audit"]] == ["alert.created"]
    assert client.get("/api/alerts/al_" + "f" * 32, headers=auth["lan"]).status_code == 404


def test_confirm_then_conflict_and_audit_shows_who_when_what_why(
    auth: Auth, client: TestClient, alert_ids: list[str]
) -> None:
    alert_id = alert_ids[0]
    body = {
        "action": "confirm",
        "reason": "Kích động thù ghét vùng miền",
        "category": "hate",
        "destinations": ["cong_an"],
        "analyst": "mallory",  # ignored: who decided comes from the token
    }
    refused = client.post(f"/api/alerts/{alert_id}/decision", json=body, headers=auth["lan"])
    assert refused.status_code == 422  # unknown field "analyst"
    del body["analyst"]
    ok = client.post(f"/api/alerts/{alert_id}/decision", json=body, headers=auth["lan"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["alert"]["status"] == "confirmed"
    second = client.post(
        f"/api/alerts/{alert_id}/decision",
        json={"action": "dismiss", "reason": "không vi phạm"},
        headers=auth["minh"],
    )
    assert second.status_code == 409
    assert "already confirmed" in second.json()["detail"]
    events = client.get(f"/api/audit?target={alert_id}", headers=auth["minh"]).json()["events"]
    confirmed = events[-1]
    assert confirmed["action"] == "alert.confirmed"
    assert confirmed["actor"] == "lan"
    assert confirmed["reason"] == "Kích động thù ghét vùng miền"
    assert confirmed["details"]["destinations"] == ["cong_an"]
    assert confirmed["at_local"].endswith("+07:00")


def test_invalid_decisions_get_field_level_messages(
    auth: Auth, client: TestClient, alert_ids: list[str]
) -> None:
    url = f"/api/alerts/{alert_ids[1]}/decision"
    no_category = client.post(
        url, json={"action": "confirm", "reason": "đúng"}, headers=auth["lan"]
    )
    assert no_category.status_code == 422
    unknown = client.post(
        url,
        json={
            "action": "confirm",
            "reason": "đúng vậy",
            "category": "hate",
            "destinations": ["fbi"],
        },
        headers=auth["lan"],
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["field"] == "destinations"
    short = client.post(url, json={"action": "dismiss", "reason": " "}, headers=auth["lan"])
    assert short.status_code == 422
    assert any(d["field"] == "reason" for d in short.json()["detail"])
    stale = client.post(
        url,
        json={"action": "dismiss", "reason": "trùng lặp", "expected_version": 7},
        headers=auth["lan"],
    )
    assert stale.status_code == 409


def test_post_text_is_served_as_data(
    auth: Auth, client: TestClient, store: AlertStore, ctx: PipelineContext
) -> None:
    text = f"bọn bắc kỳ cút hết {SCRIPT} đi"
    result = process_batch([InboundRecord("t:x", line(external_id="x", text=text))], ctx)
    store.write_batch(StoredBatch(result.posts, (), result.classifications, result.alerts))
    [alert] = result.alerts
    response = client.get(f"/api/alerts/{alert.alert_id}", headers=auth["lan"])
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["post"]["text"] == text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(store: AlertStore, accounts: AccountStore) -> Iterator[str]:
    port = _free_port()
    app = create_app(store, accounts=accounts, destinations=("cong_an", "so_tttt"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("review API did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_decision_over_real_http_on_loopback(
    auth: Auth, live_server: str, alert_ids: list[str]
) -> None:
    with httpx.Client(base_url=live_server, headers=auth["lan"], timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        response = http.post(
            f"/api/alerts/{alert_ids[1]}/decision",
            json={"action": "dismiss", "reason": "châm biếm, không nhắm vào nhóm nào"},
        )
        assert response.status_code == 200
        assert http.get("/api/audit").status_code == 403  # an analyst does not read the log
        events = http.get("/api/audit", headers=auth["minh"]).json()["events"]
    assert events[-1]["action"] == "alert.dismissed"
    assert events[-1]["actor"] == "lan"
