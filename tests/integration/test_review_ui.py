"""The review UI over each store backend (SQLite, real OpenSearch): logins, roles, CSRF,
escaping, decisions with field errors and conflicts, the audit log and its export."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.store import AlertStore, StoredBatch
from alerting.views import LOCAL_TZ
from alerting.web import mount_review_ui
from schemas import AlertStatus, AuditAction
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from tests.conftest import line
from tests.integration.helpers import store_texts

pytestmark = pytest.mark.integration

PASSWORD = "mat-khau-du-dai-123"
DESTINATIONS = ("cong_an", "so_tttt")
# Markup is refused at intake; text that looks like script must still render as inert text.
SCRIPT_TEXT = 'bọn bắc kỳ cút hết về quê đi javascript:alert(1) " onmouseover=alert(2) x="'


@pytest.fixture
def store(any_store: AlertStore) -> AlertStore:
    return any_store


@pytest.fixture
def accounts(tmp_path: Path) -> AccountStore:
    accounts = AccountStore(
        tmp_path / "accounts.db", hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    accounts.add_user("minh", PASSWORD, Role.ANALYST)
    accounts.add_user("giamsat", PASSWORD, Role.SUPERVISOR)
    accounts.add_user("lanhdao", PASSWORD, Role.OFFICIAL)
    return accounts


@pytest.fixture
def alert_ids(store: AlertStore, ctx: PipelineContext) -> list[str]:
    ids = store_texts(store, ctx, [SCRIPT_TEXT, "lũ tàu khựa đáng chết hết"])
    assert len(ids) == 2
    return ids


def app_for(store: AlertStore, accounts: AccountStore) -> TestClient:
    app = create_app(store, accounts=accounts, destinations=DESTINATIONS)
    mount_review_ui(app, store, accounts, DESTINATIONS, secure_cookies=False)
    return TestClient(app)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def logged_in(store: AlertStore, accounts: AccountStore, user: str) -> TestClient:
    client = app_for(store, accounts)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": user,
            "password": PASSWORD,
            "next": "/queue",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def decide(client: TestClient, alert_id: str, **fields: object) -> object:
    page = client.get(f"/alerts/{alert_id}")
    version = re.search(r'name="expected_version" value="(\d+)"', page.text)
    data = {
        "csrf_token": csrf_of(page.text),
        "expected_version": version.group(1) if version else "",
    }
    return client.post(f"/alerts/{alert_id}/decision", data=data | fields, follow_redirects=False)


def test_pages_need_a_login_and_the_login_is_audited(
    store: AlertStore, accounts: AccountStore
) -> None:
    anonymous = app_for(store, accounts)
    redirect = anonymous.get("/queue?label=hate", follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/login?next=/queue%3Flabel%3Dhate"
    login = anonymous.get("/login")
    assert 'lang="vi"' in login.text
    assert "Đăng nhập" in login.text
    wrong = anonymous.post(
        "/login",
        data={"csrf_token": csrf_of(login.text), "username": "lan", "password": "sai-mat-khau-1"},
    )
    assert wrong.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in wrong.text
    client = logged_in(store, accounts, "lan")
    cookie = client.cookies.get("canhbao_session")
    assert cookie
    actions = [e.action for e in store.audit_log(target="user:lan")]
    assert actions == [AuditAction.USER_LOGIN_FAILED, AuditAction.USER_LOGIN]


def test_login_without_its_csrf_cookie_is_refused(
    store: AlertStore, accounts: AccountStore
) -> None:
    client = app_for(store, accounts)
    response = client.post(
        "/login", data={"csrf_token": "guess", "username": "lan", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert not client.cookies.get("canhbao_session")


def test_queue_filters_and_shows_text_escaped(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    client = logged_in(store, accounts, "lan")
    queue = client.get("/queue")
    assert queue.status_code == 200
    assert set(re.findall(r"/alerts/(al_[0-9a-f]{32})", queue.text)) == set(alert_ids)
    assert "&#34; onmouseover=alert(2)" in queue.text
    assert "Thù ghét" in queue.text
    none = client.get("/queue?label=spam")
    assert "Không có cảnh báo nào khớp bộ lọc." in none.text
    today = datetime.now(LOCAL_TZ).date()
    in_window = client.get(f"/queue?since={today - timedelta(days=1)}&until={today}")
    assert set(re.findall(r"/alerts/(al_[0-9a-f]{32})", in_window.text)) == set(alert_ids)
    later = client.get(f"/queue?since={today + timedelta(days=1)}")
    assert "Không có cảnh báo nào khớp bộ lọc." in later.text
    by_words = client.get("/queue?q=tau+khua")  # no accents needed
    assert set(re.findall(r"/alerts/(al_[0-9a-f]{32})", by_words.text)) == {alert_ids[1]}
    english = client.get("/lang/en?next=/queue", follow_redirects=True)
    assert "Alerts for review" in english.text


def test_detail_highlights_evidence_and_never_runs_post_text(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    client = logged_in(store, accounts, "lan")
    page = client.get(f"/alerts/{alert_ids[0]}")
    assert page.status_code == 200
    assert '<mark class="evidence"' in page.text or "Bằng chứng" in page.text
    assert "&#34; onmouseover=alert(2) x=&#34;" in page.text
    assert 'rel="noopener noreferrer nofollow"' in page.text
    assert "ph1_" not in page.text  # no author reference on screen
    assert client.get("/alerts/al_" + "0" * 32).status_code == 404


def test_confirm_then_second_analyst_gets_a_conflict(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    lan = logged_in(store, accounts, "lan")
    minh = logged_in(store, accounts, "minh")
    minh_page = minh.get(f"/alerts/{alert_ids[0]}")  # minh opens it first, decides later
    confirmed = decide(
        lan,
        alert_ids[0],
        action="confirm",
        category="hate",
        destinations=["cong_an"],
        reason="Ngôn từ thù ghét vùng miền",
    )
    assert confirmed.status_code == 303  # type: ignore[attr-defined]
    late = minh.post(
        f"/alerts/{alert_ids[0]}/decision",
        follow_redirects=False,
        data={
            "csrf_token": csrf_of(minh_page.text),
            "action": "dismiss",
            "reason": "không vi phạm",
            "expected_version": re.search(
                r'name="expected_version" value="(\d+)"', minh_page.text
            ).group(1),  # type: ignore[union-attr]
        },
    )
    assert late.status_code == 409
    assert "Không ghi được" in late.text
    detail = store.get_alert(alert_ids[0])
    assert detail.alert.status is AlertStatus.CONFIRMED
    assert [d.analyst for d in detail.decisions] == ["lan"]
    assert detail.decisions[0].destinations == ["cong_an"]


def test_field_errors_and_csrf(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    lan = logged_in(store, accounts, "lan")
    missing = decide(lan, alert_ids[1], action="confirm", category="", reason="x")
    assert missing.status_code == 422  # type: ignore[attr-defined]
    assert "Xác nhận cần chọn loại vi phạm." in missing.text  # type: ignore[attr-defined]
    assert "Lý do cần ít nhất 3 ký tự." in missing.text  # type: ignore[attr-defined]
    dismiss_with_destination = decide(
        lan, alert_ids[1], action="dismiss", reason="không sao", destinations=["cong_an"]
    )
    assert dismiss_with_destination.status_code == 422  # type: ignore[attr-defined]
    forged = lan.post(
        f"/alerts/{alert_ids[1]}/decision",
        data={"csrf_token": "forged", "action": "dismiss", "reason": "giả mạo"},
    )
    assert forged.status_code == 403
    assert store.get_alert(alert_ids[1]).alert.status is AlertStatus.PENDING


def test_escalated_alerts_are_for_supervisors_and_roles_are_checked(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    lan = logged_in(store, accounts, "lan")
    assert decide(lan, alert_ids[1], action="escalate", reason="cần ý kiến").status_code == 303  # type: ignore[attr-defined]
    page = lan.get(f"/alerts/{alert_ids[1]}")
    assert "chỉ giám sát viên được quyết định" in page.text
    assert lan.get("/audit").status_code == 403
    official = logged_in(store, accounts, "lanhdao")
    assert official.get("/queue").status_code == 403
    assert official.get(f"/alerts/{alert_ids[1]}").status_code == 403
    boss = logged_in(store, accounts, "giamsat")
    done = decide(boss, alert_ids[1], action="dismiss", reason="không vi phạm sau khi xem xét")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert store.get_alert(alert_ids[1]).alert.status is AlertStatus.DISMISSED


def test_audit_page_and_export_are_supervisor_only_and_exports_are_audited(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    boss = logged_in(store, accounts, "giamsat")
    page = boss.get(f"/audit?target={alert_ids[0]}")
    assert page.status_code == 200
    assert "alert.created" in page.text
    export = boss.get("/audit.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.text.splitlines()[0].startswith("seq,at,at_local,actor,action")
    assert any(e.action is AuditAction.AUDIT_EXPORTED for e in store.audit_log(limit=1000))
    assert store.verify_audit_chain() >= 3


def test_logout_ends_the_session(store: AlertStore, accounts: AccountStore) -> None:
    client = logged_in(store, accounts, "lan")
    queue = client.get("/queue")
    client.post("/logout", data={"csrf_token": csrf_of(queue.text)})
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_claims_in_the_ui_one_analyst_per_alert(
    store: AlertStore, accounts: AccountStore, alert_ids: list[str]
) -> None:
    lan = logged_in(store, accounts, "lan")
    minh = logged_in(store, accounts, "minh")
    page = lan.get(f"/alerts/{alert_ids[0]}")
    assert "Nhận xử lý" in page.text
    taken = lan.post(
        f"/alerts/{alert_ids[0]}/claim",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert "Bạn đang xử lý cảnh báo này" in taken.text
    seen_by_minh = minh.get(f"/alerts/{alert_ids[0]}")
    assert "lan đang xử lý cảnh báo này" in seen_by_minh.text
    assert 'id="decision"' not in seen_by_minh.text
    grab = minh.post(
        f"/alerts/{alert_ids[0]}/claim", data={"csrf_token": csrf_of(seen_by_minh.text)}
    )
    assert grab.status_code == 409
    mine = lan.get("/queue?mine=1")
    assert set(re.findall(r"/alerts/(al_[0-9a-f]{32})", mine.text)) == {alert_ids[0]}
    boss = logged_in(store, accounts, "giamsat")
    boss_page = boss.get(f"/alerts/{alert_ids[0]}")
    assign = boss.post(
        f"/alerts/{alert_ids[0]}/claim",
        data={"csrf_token": csrf_of(boss_page.text), "assignee": "minh"},
        follow_redirects=False,
    )
    assert assign.status_code == 303
    assert store.get_alert(alert_ids[0]).alert.assignee == "minh"
    not_allowed = lan.post(
        f"/alerts/{alert_ids[1]}/claim", data={"csrf_token": csrf_of(page.text), "assignee": "minh"}
    )
    assert not_allowed.status_code == 403
    done = decide(minh, alert_ids[0], action="dismiss", reason="không vi phạm")
    assert done.status_code == 303  # type: ignore[attr-defined]
    actions = [e.action for e in store.audit_log(target=alert_ids[0])]
    assert AuditAction.ALERT_CLAIMED in actions
    assert AuditAction.ALERT_ASSIGNED in actions


def test_one_decision_for_the_whole_story(
    store: AlertStore, accounts: AccountStore, ctx: PipelineContext
) -> None:
    # Three alerts of one story (raised on different workers before their dedup indexes met).
    result = process_batch(
        [
            InboundRecord(f"s:{i}", line(external_id=f"s{i}", text=t))
            for i, t in enumerate(
                [
                    "bọn bắc kỳ cút hết về quê đi",
                    "lũ tàu khựa đáng chết hết",
                    "ngu vãi cả chưởng câm mồm đi",
                ]
            )
        ],
        ctx,
    )
    first, *rest = result.alerts
    story = [first] + [a.model_copy(update={"cluster_id": first.cluster_id}) for a in rest]
    store.write_batch(StoredBatch(result.posts, (), result.classifications, story))
    lan = logged_in(store, accounts, "lan")
    page = lan.get(f"/alerts/{first.alert_id}")
    assert "Áp dụng cho cả câu chuyện (2 cảnh báo khác đang mở)" in page.text
    done = decide(lan, first.alert_id, action="dismiss", reason="tin cũ, đã xử lý", whole_story="1")
    assert done.status_code == 303  # type: ignore[attr-defined]
    statuses = {a.alert_id: store.get_alert(a.alert_id).alert.status for a in story}
    assert set(statuses.values()) == {AlertStatus.DISMISSED}
    assert all(store.get_alert(a.alert_id).decisions[0].analyst == "lan" for a in story)
