"""Known false claims in a real browser (Debian's headless Chromium, Playwright, a real uvicorn
server): an analyst confirms an alert and records it as a known false claim with the official
rebuttal, cannot publish it, a supervisor publishes it, and a visitor with no account reads it
on the public corrections page with its ClaimReview JSON-LD. Screenshots in artefacts/browser/."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.claims.library import SqliteClaimLibrary
from alerting.store import SQLiteStore
from alerting.web import mount_review_ui
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch
from tests.browser.conftest import PASSWORD, chromium_or_skip, served
from tests.conftest import AUDIT_KEY, FAST_HASHER, line
from tests.unit.test_claim_stage import LexicalMatching

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "browser"
POST = ("Tin khẩn cho cả nhà. Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng"
        " tới. Mọi người ra ngân hàng rút hết tiền ngay đi kẻo không kịp.")  # fmt: skip
STATEMENT = "Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới"


@pytest.fixture
def claims_site(
    tmp_path: Path, ctx: PipelineContext
) -> Iterator[tuple[str, SqliteClaimLibrary, str]]:
    store = SQLiteStore(tmp_path / "store.db", audit_key=AUDIT_KEY)
    # the post repeats a claim of another library (the matcher's test set): an alert for it
    result = process_batch([InboundRecord("b:1", line(external_id="1", text=POST))],
                           dataclasses.replace(ctx, claims=LexicalMatching()))  # fmt: skip
    store.write_batch(stored_batch(result))
    (alert,) = result.alerts
    accounts = AccountStore(tmp_path / "accounts.db", hasher=FAST_HASHER)
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    accounts.add_user("giamsat", PASSWORD, Role.SUPERVISOR)
    library = SqliteClaimLibrary(tmp_path / "claims.db", store)
    app = create_app(store, accounts=accounts, destinations=("cong_an", "so_tttt"))
    mount_review_ui(app, store, accounts, ("cong_an", "so_tttt"), secure_cookies=True,
                    claims=library)  # fmt: skip
    with served(app) as base:
        yield base, library, alert.alert_id
    store.close()


def _login(page: object, base: str, user: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.get_by_label("Tên đăng nhập").fill(user)  # type: ignore[attr-defined]
    page.get_by_label("Mật khẩu").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Đăng nhập").click()  # type: ignore[attr-defined]


def test_an_analyst_records_a_claim_a_supervisor_publishes_the_public_reads_it(
    claims_site: tuple[str, SqliteClaimLibrary, str],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, library, alert_id = claims_site
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), headless=True)
        analyst = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page = analyst.new_page()
        _login(page, base, "lan")
        page.goto(f"{base}/alerts/{alert_id}")
        expect(page.get_by_test_id("known-claims")).to_contain_text("Trùng khớp rõ")
        assert page.locator("#known-claim-form").count() == 0  # only once confirmed
        page.get_by_label("Xác nhận").check()
        page.get_by_label("Loại vi phạm").select_option("misinformation")
        page.get_by_label("Lý do / ghi chú").fill("Tin đồn đổi tiền, đã bị bác bỏ")
        page.get_by_role("button", name="Ghi nhận quyết định").click()
        expect(page.locator("#alert-status")).to_have_text("Đã xác nhận")

        form = page.locator("#known-claim-form")
        form.get_by_label("Nội dung tin sai").fill(STATEMENT)
        form.get_by_label("Cách diễn đạt khác").fill("ngan hang sap doi tien")
        form.get_by_label("Thông tin chính thức bác bỏ").fill(
            "Ngân hàng Nhà nước khẳng định không có chủ trương đổi tiền."
        )
        form.get_by_label("Cơ quan bác bỏ").fill("Ngân hàng Nhà nước")
        form.get_by_label("Đường dẫn văn bản chính thức").fill("https://sbv.gov.vn/bac-bo-doi-tien")
        form.get_by_label("Ngày bác bỏ").fill("2026-11-20")
        page.screenshot(path=str(ARTEFACTS / "claim-propose.png"), full_page=True)
        form.get_by_role("button", name="Tạo bản nháp").click()
        expect(page.get_by_role("status")).to_contain_text("Đã tạo bản nháp")
        expect(page.locator("#claim-status")).to_have_text("Bản nháp")
        assert page.get_by_role("button", name="Công bố").count() == 0  # not an analyst's
        claim_url = page.url.split("?")[0]
        claim_id = claim_url.rsplit("/", 1)[1]
        assert library.get(claim_id).source_alert_id == alert_id

        supervisor = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        boss = supervisor.new_page()
        _login(boss, base, "giamsat")
        boss.goto(claim_url)
        boss.get_by_role("button", name="Công bố").click()
        expect(boss.get_by_role("status")).to_contain_text("Đã công bố")
        expect(boss.locator("#claim-status")).to_have_text("Đã công bố")
        boss.screenshot(path=str(ARTEFACTS / "claim-published.png"), full_page=True)

        visitor = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        public = visitor.new_page()
        public.goto(f"{base}/corrections")
        expect(public.get_by_role("heading", name="Thông tin sai đã được bác bỏ")).to_be_visible()
        public.get_by_role("link", name=STATEMENT).click()
        expect(public.locator("blockquote.rebuttal")).to_contain_text("không có chủ trương")
        data = public.evaluate(
            "JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)"
        )
        assert (data["@type"], data["claimReviewed"]) == ("ClaimReview", STATEMENT)
        assert data["author"]["name"] == "Ngân hàng Nhà nước"
        public.screenshot(path=str(ARTEFACTS / "correction.png"), full_page=True)
        assert not re.search(r"\b(lan|giamsat)\b", public.content().replace('lang="vi"', ""))
        feed = visitor.request.get(f"{base}/corrections.atom")
        assert STATEMENT in feed.text()
        assert (
            json.loads(visitor.request.get(f"{base}/corrections/{claim_id}.jsonld").text()) == data
        )
        browser.close()
