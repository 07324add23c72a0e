"""The review UI in a real browser: Debian's headless Chromium driven by Playwright, against a
real uvicorn server on 127.0.0.1. Screenshots of the pages go to artefacts/browser/."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest

from alerting.delivery import Deliverer, Outbox, RoutingConfig, WebhookSender
from alerting.delivery.config import WebhookChannel
from alerting.digests import Period, digest_from_store, period_bounds, render_html
from alerting.store import SQLiteStore
from alerting.views import LOCAL_TZ
from ingest.fixture_server import Reply, serve_fixtures
from schemas import AlertStatus, AuditAction, DeliveryMessage
from tests.browser.conftest import PASSWORD, chromium_or_skip

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "browser"


def test_analyst_logs_in_filters_opens_confirms_and_dismisses(
    site: tuple[str, SQLiteStore, list[str]], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store, alert_ids = site
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page.goto(f"{base}/queue")
        expect(page).to_have_url(re.compile(r"/login\?next=/queue"))
        page.get_by_label("Tên đăng nhập").fill("lan")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("heading", name="Cảnh báo chờ xem xét")).to_be_visible()
        assert len(page.locator("table.queue tbody tr").all()) == 3

        page.get_by_label("Nhãn").select_option("hate")
        page.get_by_role("button", name="Lọc").click()
        expect(page).to_have_url(re.compile(r"label=hate"))
        hate_rows = page.locator("table.queue tbody tr")
        assert hate_rows.count() >= 1
        page.screenshot(path=str(ARTEFACTS / "queue.png"), full_page=True)

        page.keyboard.press("j")  # keyboard: select the first row, open it
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=re.compile("Chi tiết cảnh báo"))).to_be_visible()
        first_id = page.url.rsplit("/", 1)[-1]
        page.screenshot(path=str(ARTEFACTS / "detail.png"), full_page=True)

        page.keyboard.press("c")  # shortcut: pick "confirm", focus the reason
        page.get_by_label("Loại vi phạm").select_option("hate")
        page.get_by_label("Công an").check()
        page.get_by_label("Lý do / ghi chú").fill("Kích động thù ghét vùng miền")
        page.get_by_role("button", name="Ghi nhận quyết định").click()
        expect(page.get_by_role("status")).to_contain_text("Đã ghi nhận: Xác nhận")
        expect(page.locator("#alert-status")).to_have_text("Đã xác nhận")

        other = next(a for a in alert_ids if a != first_id)
        page.goto(f"{base}/alerts/{other}")
        page.get_by_label("Bác bỏ").check()
        page.get_by_label("Lý do / ghi chú").fill("Không đủ căn cứ")
        page.get_by_role("button", name="Ghi nhận quyết định").click()
        expect(page.locator("#alert-status")).to_have_text("Đã bác bỏ")

        # Today's digest, as `canhbao digest` would write it, shown to the analyst.
        start, end = period_bounds(Period.DAY, datetime.now(LOCAL_TZ).date())
        digests = tmp_path / "digests"  # the folder the service was given
        digests.mkdir(parents=True, exist_ok=True)
        html = render_html(digest_from_store(store, Period.DAY, start, end))
        (digests / f"day-{start.date().isoformat()}.html").write_text(html, encoding="utf-8")
        page.goto(f"{base}/digests")
        page.get_by_role("link", name=re.compile("Ngày")).first.click()
        expect(page.get_by_role("heading", name="Bản tin tổng hợp cảnh báo")).to_be_visible()
        page.screenshot(path=str(ARTEFACTS / "digest.png"), full_page=True)

        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["canhbao_session"]
        assert session["httpOnly"]
        assert session["secure"]
        assert session["sameSite"] == "Strict"
        browser.close()

    # The deliverer sends what the analyst confirmed — and only that — to the destination.
    with serve_fixtures() as receiver:
        receiver.route("/hook", Reply(status=204))
        os.environ["CANHBAO_TEST_HOOK_SECRET"] = "browser-test-secret-0123"
        try:
            spec = WebhookChannel(
                type="webhook",
                url=receiver.url("/hook"),
                secret="env:CANHBAO_TEST_HOOK_SECRET",
                allow_internal=True,
            )
            config = RoutingConfig.model_validate(
                {
                    "destinations": {"cong_an": {"channels": [spec.model_dump()]}},
                    "rules": [{"destinations": ["cong_an"]}],
                }
            )
            report = Deliverer(
                store, Outbox(tmp_path / "outbox.db"), config, {"cong_an": [WebhookSender(spec)]}
            ).run_once()
        finally:
            del os.environ["CANHBAO_TEST_HOOK_SECRET"]
        delivered = [DeliveryMessage.model_validate_json(h.body) for h in receiver.hits("/hook")]
    assert report.sent == 1
    assert [m.alert_ids for m in delivered] == [[first_id]]
    confirmed = store.get_alert(first_id)
    assert confirmed.alert.status is AlertStatus.CONFIRMED
    assert confirmed.decisions[0].destinations == ["cong_an"]
    dismissed = store.get_alert(other)
    assert dismissed.alert.status is AlertStatus.DISMISSED
    assert dismissed.decisions[0].destinations == []
    actions = {(e.target, e.action) for e in store.audit_log(limit=1000)}
    assert (first_id, AuditAction.ALERT_CONFIRMED) in actions
    assert (other, AuditAction.ALERT_DISMISSED) in actions
    assert ("user:lan", AuditAction.USER_LOGIN) in actions
    assert (first_id, AuditAction.DELIVERY_SENT) in actions
    assert (other, AuditAction.DELIVERY_SENT) not in actions
