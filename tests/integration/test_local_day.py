"""Local-day windows around midnight in Asia/Ho_Chi_Minh, on every store backend.

Finding 6 of the trust & safety issue: the SQLite store compared ISO timestamps as text, so
`since=2026-12-02T00:00+07:00` returned 0 where the same instant in `Z` returned 33, the daily
digest missed alerts raised 00:00–07:00 local, and the UI's date filter showed 0 of 52.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.authz import SESSION_COOKIE
from alerting.digests import Period, digest_from_store, period_bounds
from alerting.store import AlertStore
from alerting.web import mount_review_ui
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch
from tests.conftest import FAST_HASHER, PASSWORD, line

pytestmark = pytest.mark.integration

# Raised at these instants (UTC). Local (UTC+7): 1 Dec 23:30, 2 Dec 00:30, 2 Dec 06:59.
RAISED = {
    "evening": datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
    "after_midnight": datetime(2026, 12, 1, 17, 30, tzinfo=UTC),
    "early_morning": datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC),
}
TEXTS = {
    "evening": "bọn bắc kỳ cút hết về quê đi",
    "after_midnight": "lũ tàu khựa đáng chết hết",
    "early_morning": "ngu vãi cả chưởng, câm mồm đi đồ ngu",
}


@pytest.fixture
def raised(any_store: AlertStore, ctx: PipelineContext) -> dict[str, str]:
    ids = {}
    for name, moment in RAISED.items():
        result = process_batch(
            [InboundRecord(f"t:{name}", line(external_id=name, text=TEXTS[name]))], ctx, now=moment
        )
        [alert] = result.alerts
        any_store.write_batch(stored_batch(result))
        ids[name] = alert.alert_id
    return ids


@pytest.fixture
def service(any_store: AlertStore, tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    accounts = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    app = create_app(any_store, accounts=accounts, destinations=("cong_an",))
    mount_review_ui(app, any_store, accounts, ("cong_an",), secure_cookies=False)
    client = TestClient(app)
    user = accounts.get_user("lan")
    assert user is not None
    cookie, _ = accounts.open_session(user)
    client.cookies.set(SESSION_COOKIE, cookie)
    _, token = accounts.issue_token("lan", "tests")
    return client, {"Authorization": f"Bearer {token}"}


def _api_ids(client: TestClient, headers: dict[str, str], **window: str) -> set[str]:
    query = "&".join(f"{k}={quote(v)}" for k, v in window.items())
    response = client.get(f"/api/alerts?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return {a["alert_id"] for a in response.json()["alerts"]}


def test_api_windows_are_instants_whatever_the_offset(
    raised: dict[str, str], service: tuple[TestClient, dict[str, str]]
) -> None:
    client, headers = service
    local = _api_ids(client, headers, since="2026-12-02T00:00:00+07:00")
    utc = _api_ids(client, headers, since="2026-12-01T17:00:00Z")
    assert local == utc == {raised["after_midnight"], raised["early_morning"]}
    before = _api_ids(client, headers, until="2026-12-02T00:00:00+07:00")
    assert before == {raised["evening"]}
    morning = _api_ids(
        client, headers, since="2026-12-02T06:00:00+07:00", until="2026-12-02T07:00:00+07:00"
    )
    assert morning == {raised["early_morning"]}


def test_the_ui_date_filter_is_the_local_day(
    raised: dict[str, str], service: tuple[TestClient, dict[str, str]]
) -> None:
    client, _ = service
    page = client.get("/queue?status=all&since=2026-12-02&until=2026-12-02")
    assert page.status_code == 200
    assert raised["after_midnight"] in page.text
    assert raised["early_morning"] in page.text
    assert raised["evening"] not in page.text
    previous = client.get("/queue?status=all&since=2026-12-01&until=2026-12-01")
    assert raised["evening"] in previous.text
    assert raised["after_midnight"] not in previous.text


def test_the_daily_digest_counts_alerts_raised_after_local_midnight(
    raised: dict[str, str], any_store: AlertStore
) -> None:
    start, end = period_bounds(Period.DAY, date(2026, 12, 2))
    digest = digest_from_store(any_store, Period.DAY, start, end)
    assert digest.raised == 2
    assert digest.by_day == {"2026-12-02": 2}
    assert digest.previous is not None
    assert digest.previous.raised == 1
