"""The lesser findings (7) of the trust & safety issue, each against a real service:
forwarded headers from untrusted clients, CSV formula injection, bidi controls in displayed
fields, docs from a CDN, and views of the audit log and digests left unaudited. (Headers,
clickjacking and login CSRF are in `tests/browser/test_review_security_browser.py`; the
password policy and the lockout in `tests/unit/web/test_accounts.py`.)"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.authz import SESSION_COOKIE
from alerting.store import AlertStore, SQLiteStore
from alerting.web import mount_review_ui
from schemas import AuditAction
from stream_jobs.pipeline import PipelineContext
from tests.conftest import AUDIT_KEY, FAST_HASHER, PASSWORD, line
from tests.integration.helpers import store_texts

pytestmark = pytest.mark.integration

DESTINATIONS = ("cong_an", "so_tttt")
RLO = "\u202e"


@pytest.fixture
def accounts(tmp_path: Path) -> AccountStore:
    accounts = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    accounts.add_user("giamsat", PASSWORD, Role.SUPERVISOR)
    accounts.add_user("lanhdao", PASSWORD, Role.OFFICIAL)
    return accounts


def _client(store: AlertStore, accounts: AccountStore, who: str, **ui: object) -> TestClient:
    """A client signed in as `who` (its CSRF token in `client.csrf`)."""
    app = create_app(store, accounts=accounts, destinations=DESTINATIONS)
    mount_review_ui(app, store, accounts, DESTINATIONS, secure_cookies=False, **ui)  # type: ignore[arg-type]
    client = TestClient(app, follow_redirects=False)
    user = accounts.get_user(who)
    assert user is not None
    cookie, session = accounts.open_session(user)
    client.cookies.set(SESSION_COOKIE, cookie)
    client.csrf = session.csrf_token  # type: ignore[attr-defined]
    return client


def _decide(client: TestClient, alert_id: str, **fields: str) -> Any:
    data = {"csrf_token": client.csrf, **fields}  # type: ignore[attr-defined]
    return client.post(f"/alerts/{alert_id}/decision", data=data)


def test_csv_export_escapes_formula_cells(
    store: AlertStore, accounts: AccountStore, ctx: PipelineContext
) -> None:
    """The audit CSV wrote `=HYPERLINK(...)` verbatim: a spreadsheet would run it."""
    [alert_id, *_] = store_texts(store, ctx, ["bọn bắc kỳ cút hết về quê đi"])
    formula = '=HYPERLINK("http://evil.example/x","bấm vào")'
    assert (
        _decide(
            _client(store, accounts, "lan"), alert_id, action="dismiss", reason=formula
        ).status_code
        == 303
    )
    exported = _client(store, accounts, "giamsat").get("/audit.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    reasons = [row[6] for row in rows[1:]]
    assert "'" + formula in reasons
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_bidi_controls_are_stripped_from_reasons_refused_in_links_and_shown_in_urls(
    store: AlertStore, accounts: AccountStore, ctx: PipelineContext
) -> None:
    """U+202E was stripped from post texts but kept in URLs, reasons and fact-check links."""
    tricky = f"https://tin.example.vn/anh-{RLO}gpj.exe"
    ids = store_texts(store, ctx, ["bọn bắc kỳ cút hết về quê đi", "lũ tàu khựa đáng chết hết"])
    lan = _client(store, accounts, "lan")
    _, token = accounts.issue_token("lan", "tests")
    api = {"Authorization": f"Bearer {token}"}
    bad_link = lan.post(
        f"/api/alerts/{ids[0]}/decision",
        json={"action": "confirm", "category": "hate", "reason": "đúng", "fact_check_url": tricky},
        headers=api,
    )
    assert bad_link.status_code == 422
    assert "direction" in bad_link.text
    ok = lan.post(
        f"/api/alerts/{ids[0]}/decision",
        json={"action": "dismiss", "reason": f"không {RLO}vi phạm"},
        headers=api,
    )
    assert ok.status_code == 200
    assert RLO not in ok.json()["decision"]["reason"]
    # A post whose URL carries the control: the page shows it, visibly.
    from stream_jobs.pipeline import InboundRecord, process_batch
    from stream_jobs.storing import stored_batch

    result = process_batch(
        [
            InboundRecord(
                "t:url", line(external_id="rlo", text="lũ mọi rợ đáng chết hết", url=tricky)
            )
        ],
        ctx,
    )
    store.write_batch(stored_batch(result))
    [alert] = result.alerts
    page = lan.get(f"/alerts/{alert.alert_id}")
    assert page.status_code == 200
    assert RLO not in page.text
    assert "⟦U+202E⟧" in page.text


def test_api_docs_are_served_from_here_without_scripts(
    store: AlertStore, accounts: AccountStore
) -> None:
    """`/docs` loaded Swagger's scripts from a public CDN."""
    client = _client(store, accounts, "lan")
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/api/alerts/{alert_id}/decision" in docs.text
    assert "<script" not in docs.text
    assert not re.search(r'(src|href)=["\']https?://', docs.text)
    assert client.get("/openapi.json").json()["info"]["title"] == "canhbao review API"
    assert docs.headers["content-security-policy"].startswith("default-src 'none'")


def test_viewing_the_audit_log_or_a_digest_is_audited(
    store: AlertStore, accounts: AccountStore, tmp_path: Path
) -> None:
    digests = tmp_path / "digests"
    digests.mkdir()
    (digests / "day-2026-12-01.html").write_text(
        "<html><body>Bản tin</body></html>", encoding="utf-8"
    )
    official = _client(store, accounts, "lanhdao", digests_dir=digests)
    assert official.get("/digests/day-2026-12-01.html").status_code == 200
    supervisor = _client(store, accounts, "giamsat")
    assert supervisor.get("/audit").status_code == 200
    _, token = accounts.issue_token("giamsat", "tests")
    assert (
        supervisor.get("/api/audit", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    events = store.audit_log(limit=100)
    viewed = [(e.actor, e.action, e.target) for e in events]
    assert ("lanhdao", AuditAction.DIGEST_VIEWED, "digest:day-2026-12-01.html") in viewed
    assert [e.details["via"] for e in events if e.action is AuditAction.AUDIT_VIEWED] == [
        "ui",
        "api",
    ]


# -- forwarded headers, through a real `canhbao serve` -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path, tiny_model_dir: Path) -> Iterator[Callable[..., str]]:
    """Start `canhbao serve` on a free port with the given extra settings; stop it after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**settings: str) -> str:
        data = tmp_path / f"var{len(started)}"
        data.mkdir()
        accounts = AccountStore(data / "accounts.db", hasher=FAST_HASHER)
        accounts.add_user("lan", PASSWORD, Role.ANALYST)
        accounts.close()
        SQLiteStore(data / "canhbao.db", audit_key=AUDIT_KEY).close()
        port = _free_port()
        env = {
            **os.environ,
            "CANHBAO_DATA_DIR": str(data),
            "CANHBAO_AUDIT_KEY": AUDIT_KEY.decode(),
            "CANHBAO_MODEL_DIR": str(tiny_model_dir),
            "CANHBAO_REVIEW_COOKIE_SECURE": "false",
            **settings,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "canhbao", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("canhbao serve did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=20)


def _failed_logins(base: str, spoofed: list[str]) -> list[int]:
    statuses = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for address in spoofed:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            answer = client.post(
                "/login",
                data={
                    "csrf_token": token.group(1),
                    "username": "lan",
                    "password": "sai-mat-khau-9",
                },
                headers={"X-Forwarded-For": address, "Origin": base},
            )
            statuses.append(answer.status_code)
    return statuses


def _login_clients(data_dir: Path) -> list[str]:
    store = SQLiteStore(data_dir / "canhbao.db", audit_key=AUDIT_KEY)
    try:
        return [
            str(e.details["client"])
            for e in store.audit_log(limit=100)
            if e.action is AuditAction.USER_LOGIN_FAILED
        ]
    finally:
        store.close()


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    serve: Callable[..., str], tmp_path: Path
) -> None:
    """X-Forwarded-For was trusted from any client: rate limits were bypassed and the audit
    recorded a spoofed address."""
    base = serve()
    spoofed = [f"203.0.113.{i}" for i in range(1, 8)]
    statuses = _failed_logins(base, spoofed)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]  # one address, however many it claims to be
    assert set(_login_clients(tmp_path / "var0")) == {"127.0.0.1"}

    trusted = serve(CANHBAO_REVIEW_TRUSTED_PROXIES=json.dumps(["127.0.0.1"]))
    assert _failed_logins(trusted, spoofed[:6]) == [401] * 6  # six different clients, believed
    assert _login_clients(tmp_path / "var1") == spoofed[:6]
