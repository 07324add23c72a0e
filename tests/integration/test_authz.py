"""Every route × every role, through both faces: the route table is the whole truth.

Finding 1 of the trust & safety issue: API tokens ignored roles and accounts (an official's
token, even deactivated, confirmed an alert). Finding 2: a "whole story" decision skipped the
supervisor-only rule. A route added without a rule fails `test_every_route_has_a_rule`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from alerting.accounts import AccountStore, Permission, Role, allows
from alerting.api import create_app
from alerting.authz import PUBLIC, ROUTE_RULES, SESSION_COOKIE, SIGNED_IN, face_of
from alerting.claims.library import SqliteClaimLibrary
from alerting.store import AlertQuery, AlertStore, SQLiteStore, StoredBatch
from alerting.web import mount_review_ui
from schemas import AlertStatus, AnalystDecision, ClaimDraft, DecisionAction, Rebuttal, utc_now
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from tests.conftest import AUDIT_KEY, FAST_HASHER, PASSWORD, line

pytestmark = pytest.mark.integration

DESTINATIONS = ("cong_an", "so_tttt")
HOSTILE = [
    "bọn bắc kỳ cút hết về quê đi",
    "lũ tàu khựa đáng chết hết",
    "ngu vãi cả chưởng, câm mồm đi đồ ngu",
]


@dataclass
class Service:
    app: FastAPI
    store: AlertStore
    accounts: AccountStore
    alert_ids: list[str]
    claim_id: str


@pytest.fixture
def service(tmp_path: Path, ctx: PipelineContext) -> Iterator[Service]:
    store = SQLiteStore(tmp_path / "store.db", audit_key=AUDIT_KEY)
    # One story of three alerts (raised on different workers before their dedup indexes met).
    result = process_batch(
        [InboundRecord(f"s:{i}", line(external_id=f"s{i}", text=t)) for i, t in enumerate(HOSTILE)],
        ctx,
    )
    first, *rest = result.alerts
    story = [first] + [a.model_copy(update={"cluster_id": first.cluster_id}) for a in rest]
    store.write_batch(StoredBatch(result.posts, (), result.classifications, story))
    ids = [a.alert_id for a in story]
    assert len(ids) == 3
    accounts = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    for role in Role:
        accounts.add_user(f"u-{role.value}", PASSWORD, role)
    accounts.add_user("u-gone", PASSWORD, Role.SUPERVISOR)
    library = SqliteClaimLibrary(tmp_path / "claims.db", store)
    claim = library.create(ClaimDraft(
        statement="Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị",
        rebuttal=Rebuttal(text="Không có chủ trương đổi tiền.", issuer="Ngân hàng Nhà nước",
                          url="https://sbv.gov.vn/bac-bo", published_on=date(2026, 11, 20)),
    ), "user:u-analyst")  # fmt: skip
    library.publish(claim.claim_id, "user:u-supervisor", Role.SUPERVISOR)
    app = create_app(store, accounts=accounts, destinations=DESTINATIONS)
    mount_review_ui(app, store, accounts, DESTINATIONS, secure_cookies=False, claims=library)
    yield Service(app, store, accounts, ids, claim.claim_id)
    store.close()


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path))
        elif isinstance(route, APIRoute | Route):
            found.update((m, route.path) for m in (route.methods or ()) if m != "HEAD")
    return found


def test_every_route_has_a_rule_and_every_rule_a_route(service: Service) -> None:
    assert _routes(service.app) == set(ROUTE_RULES)


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role | None  # None: nobody signed in, or an account that was deactivated


def _callers(service: Service) -> list[tuple[Caller, TestClient, str | None, str]]:
    """(caller, a client with its session cookie, its API token, its CSRF token)."""
    out: list[tuple[Caller, TestClient, str | None, str]] = []
    for role in Role:
        username = f"u-{role.value}"
        user = service.accounts.get_user(username)
        assert user is not None
        cookie, session = service.accounts.open_session(user)
        _, token = service.accounts.issue_token(username, "route test")
        client = TestClient(service.app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, cookie)
        out.append((Caller(username, role), client, token, session.csrf_token))
    # Deactivated after its token and session were issued: both must stop working.
    gone = service.accounts.get_user("u-gone")
    assert gone is not None
    cookie, session = service.accounts.open_session(gone)
    _, token = service.accounts.issue_token("u-gone", "route test")
    service.accounts.set_active("u-gone", False)
    client = TestClient(service.app, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, cookie)
    out.append((Caller("u-gone", None), client, token, session.csrf_token))
    out.append(
        (Caller("anonymous", None), TestClient(service.app, follow_redirects=False), None, "")
    )
    return out


def _call(
    service: Service, client: TestClient, method: str, path: str, token: str | None, csrf: str
) -> tuple[int, str]:
    alert_id = service.alert_ids[0]
    url = (
        path.replace("{alert_id}", alert_id)
        .replace("{name}", "day-2026-12-01.html")
        .replace("{code}", "vi")
        .replace("{claim_id}", service.claim_id)
    )
    if path == "/static":
        url = "/static/style.css"
    headers = {"Origin": "http://testserver"}
    if face_of(path) == "api":
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = {"action": "dismiss", "reason": "kiểm tra quyền theo tuyến"}
        response = client.request(
            method, url, headers=headers, json=body if method == "POST" else None
        )
        return response.status_code, response.text
    form: dict[str, str] = {"csrf_token": csrf, "action": "dismiss", "reason": "kiểm tra quyền"}
    if path == "/login":
        page = client.get("/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match
        form = {"csrf_token": match.group(1), "username": "nobody", "password": "x" * 12}
    response = client.request(method, url, headers=headers, data=form if method == "POST" else None)
    return response.status_code, response.headers.get("location", "") + response.text


def _outcome(face: str, status: int, body: str) -> str:
    if face == "api":
        return {401: "unauthenticated", 403: "forbidden"}.get(status, "allowed")
    if status == 303 and body.startswith("/login?next="):
        return "unauthenticated"
    if status == 403 and ("không có quyền" in body or "may not" in body):
        return "forbidden"
    return "allowed"


def _expected(rule: object, caller: Caller) -> str:
    if rule is PUBLIC:
        return "allowed"
    if caller.role is None:
        return "unauthenticated"
    if rule is SIGNED_IN:
        return "allowed"
    return "allowed" if allows(caller.role, Permission(str(rule))) else "forbidden"


def test_every_route_for_every_role_gets_what_the_table_says(service: Service) -> None:
    callers = _callers(service)
    seen = []
    for (method, path), rule in sorted(ROUTE_RULES.items()):
        for caller, client, token, csrf in callers:
            status, body = _call(service, client, method, path, token, csrf)
            got = _outcome(face_of(path), status, body)
            seen.append((method, path, caller.name, _expected(rule, caller), got, status))
    wrong = [s for s in seen if s[3] != s[4]]
    assert not wrong, "\n".join(
        f"{m} {p} as {c}: expected {e}, got {g} ({st})" for m, p, c, e, g, st in wrong
    )
    # Each kind of outcome really happened somewhere, so the table is exercised both ways.
    assert {"allowed", "forbidden", "unauthenticated"} <= {s[4] for s in seen}


def test_an_official_or_a_deactivated_token_cannot_decide(service: Service) -> None:
    """Finding 1, as reported: an official's token, even deactivated, confirmed an alert."""
    _, official = service.accounts.issue_token("u-official", "digest reader")
    _, analyst = service.accounts.issue_token("u-analyst", "bridge")
    client = TestClient(service.app)
    confirm = {
        "action": "confirm",
        "reason": "vi phạm rõ ràng",
        "category": "hate",
        "destinations": ["so_tttt"],
    }
    url = f"/api/alerts/{service.alert_ids[0]}/decision"
    assert (
        client.post(url, json=confirm, headers={"Authorization": f"Bearer {official}"}).status_code
        == 403
    )
    service.accounts.set_active("u-official", False)
    assert (
        client.post(url, json=confirm, headers={"Authorization": f"Bearer {official}"}).status_code
        == 401
    )
    # An analyst may confirm; the log names the account, not anything in the request.
    ok = client.post(url, json=confirm, headers={"Authorization": f"Bearer {analyst}"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["decision"]["analyst"] == "u-analyst"
    assert (
        client.get("/api/audit", headers={"Authorization": f"Bearer {analyst}"}).status_code == 403
    )


def _escalate(store: AlertStore, alert_id: str) -> None:
    store.decide(
        AnalystDecision(
            alert_id=alert_id,
            action=DecisionAction.ESCALATE,
            analyst="u-supervisor",
            reason="cần giám sát viên xem",
            decided_at=utc_now(),
        )
    )


def test_an_analyst_cannot_decide_an_escalated_alert_through_the_api(service: Service) -> None:
    _escalate(service.store, service.alert_ids[0])
    _, analyst = service.accounts.issue_token("u-analyst", "bridge")
    _, supervisor = service.accounts.issue_token("u-supervisor", "bridge")
    client = TestClient(service.app)
    url = f"/api/alerts/{service.alert_ids[0]}/decision"
    body = {"action": "dismiss", "reason": "không vi phạm"}
    refused = client.post(url, json=body, headers={"Authorization": f"Bearer {analyst}"})
    assert refused.status_code == 403
    assert "supervisor" in refused.json()["detail"]
    assert (
        client.post(url, json=body, headers={"Authorization": f"Bearer {supervisor}"}).status_code
        == 200
    )


def _story_members(store: AlertStore, alert_id: str) -> list[str]:
    cluster = store.get_alert(alert_id).alert.cluster_id
    return [a.alert_id for a in store.list_alerts(AlertQuery(cluster_id=cluster)).alerts]


def test_whole_story_decisions_skip_what_the_decider_may_not_decide(service: Service) -> None:
    """Finding 2: an analyst who got 403 on an escalated alert confirmed it anyway by deciding
    a sibling with "whole story" ticked. Through the API and through the UI."""
    story = _story_members(service.store, service.alert_ids[0])
    escalated, sibling = story[0], story[1]
    _escalate(service.store, escalated)
    _, analyst = service.accounts.issue_token("u-analyst", "bridge")
    client = TestClient(service.app)
    response = client.post(
        f"/api/alerts/{sibling}/decision",
        json={
            "action": "confirm",
            "reason": "cả câu chuyện",
            "category": "hate",
            "whole_story": True,
        },
        headers={"Authorization": f"Bearer {analyst}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["story"]["skipped"] == [
        {"alert_id": escalated, "reason": "supervisor_only"}
    ]
    assert service.store.get_alert(escalated).alert.status is AlertStatus.ESCALATED
    assert service.store.get_alert(sibling).alert.status is AlertStatus.CONFIRMED
    [summary] = [
        e for e in service.store.audit_log(limit=1000) if e.action.value == "story.decided"
    ]
    assert summary.details["skipped"] == [{"alert_id": escalated, "reason": "supervisor_only"}]


def test_the_ui_reports_a_story_decisions_skips(service: Service) -> None:
    story = _story_members(service.store, service.alert_ids[0])
    escalated, sibling = story[0], story[1]
    _escalate(service.store, escalated)
    user = service.accounts.get_user("u-analyst")
    assert user is not None
    cookie, session = service.accounts.open_session(user)
    client = TestClient(service.app)
    client.cookies.set(SESSION_COOKIE, cookie)
    page = client.post(
        f"/alerts/{sibling}/decision",
        data={
            "csrf_token": session.csrf_token,
            "action": "dismiss",
            "reason": "châm biếm, không nhắm vào ai",
            "whole_story": "1",
        },
    )
    assert page.status_code == 200
    assert "bỏ qua 1" in page.text
    assert "chỉ giám sát viên được quyết định: 1" in page.text
    assert service.store.get_alert(escalated).alert.status is AlertStatus.ESCALATED
    # Deciding the escalated alert itself is refused outright.
    refused = client.post(
        f"/alerts/{escalated}/decision",
        data={"csrf_token": session.csrf_token, "action": "dismiss", "reason": "không vi phạm"},
    )
    assert refused.status_code == 403
