"""`canhbao digest` end to end: a real store → HTML and a PDF printed by headless Chromium →
emailed over STARTTLS → listed and shown to an official in the review UI."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.store import SQLiteStore
from alerting.views import LOCAL_TZ
from alerting.web import mount_review_ui
from canhbao.cli import app
from schemas import AuditAction, DecisionAction, Label
from stream_jobs.pipeline import PipelineContext
from tests.conftest import AUDIT_KEY
from tests.integration.helpers import decision, store_texts

pytestmark = pytest.mark.integration


@pytest.fixture
def data(tmp_path: Path, ctx: PipelineContext) -> Path:
    store = SQLiteStore(tmp_path / "var" / "canhbao.db", audit_key=AUDIT_KEY)
    first, second = store_texts(
        store, ctx, ["bọn bắc kỳ cút hết về quê đi", "lũ tàu khựa đáng chết hết"]
    )
    store.decide(
        decision(
            first,
            DecisionAction.CONFIRM,
            category=Label.HATE,
            destinations=["cong_an"],
            fact_check_url="https://fact.vn/x",
        )
    )
    store.decide(decision(second, DecisionAction.DISMISS))
    store.close()
    return tmp_path / "var"


def test_digest_html_pdf_email_and_ui(
    data: Path,
    tmp_path: Path,
    tiny_model_dir: Path,
    smtp_server: tuple[int, list[Any], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (needed for PDF digests)")
    port, received, cert = smtp_server
    # The tests' SMTP server has a self-made certificate: trust it for this run.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "destinations: {cong_an: {channels: [{type: kafka}]}}\n"
        "rules: [{destinations: [cong_an]}]\n"
        f"digests: {{to: [lanh-dao@sotttt.test], from: canhbao@test,"
        f" smtp: {{host: 127.0.0.1, port: {port}, starttls: true}}}}\n"
    )
    today = datetime.now(LOCAL_TZ).date().isoformat()
    env = {
        "CANHBAO_DATA_DIR": str(data),
        "CANHBAO_AUDIT_KEY": AUDIT_KEY.decode(),
        "CANHBAO_MODEL_DIR": str(tiny_model_dir),
        "CANHBAO_LOG_LEVEL": "WARNING",
    }
    result = CliRunner().invoke(
        app,
        ["digest", "--period", "day", "--date", today, "--send", "--routing", str(routing)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    html_path, pdf_path = (
        data / "digests" / f"day-{today}.html",
        data / "digests" / f"day-{today}.pdf",
    )
    html = html_path.read_text(encoding="utf-8")
    assert "Bản tin tổng hợp cảnh báo" in html
    assert "https://fact.vn/x" in html
    assert "ph1_" not in html
    assert pdf_path.read_bytes().startswith(b"%PDF")
    [envelope] = received
    mail: Message = message_from_bytes(envelope.content)
    assert envelope.rcpt_tos == ["lanh-dao@sotttt.test"]
    kinds = [part.get_content_type() for part in mail.walk()]
    assert "text/html" in kinds
    assert "application/pdf" in kinds
    store = SQLiteStore(data / "canhbao.db", audit_key=AUDIT_KEY)
    assert any(e.action is AuditAction.DIGEST_SENT for e in store.audit_log(limit=100))

    accounts = AccountStore(
        tmp_path / "accounts.db", hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    accounts.add_user("lanhdao", "mat-khau-du-dai-123", Role.OFFICIAL)
    web = create_app(store, accounts=accounts, destinations=("cong_an",))
    mount_review_ui(
        web, store, accounts, ("cong_an",), secure_cookies=False, digests_dir=data / "digests"
    )
    client = TestClient(web)
    login = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token
    landed = client.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "username": "lanhdao",
            "password": "mat-khau-du-dai-123",
        },
    )
    assert landed.url.path == "/digests"
    assert f"/digests/day-{today}.pdf" in landed.text
    page = client.get(f"/digests/day-{today}.html")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get("/digests/..%2Fcanhbao.db").status_code == 404
    assert client.get("/queue").status_code == 403
    store.close()
