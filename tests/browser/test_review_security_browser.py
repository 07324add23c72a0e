"""Attacks that need a real browser, from a page on another port of the same host (cookies are
not isolated by port, so this is the strongest neighbour an attacker can be).

Finding 7 of the trust & safety issue: no CSP / X-Frame-Options / nosniff on UI pages (the
logged-in detail page rendered inside a foreign iframe), and login CSRF (a page on another
origin logged the browser in as the attacker)."""

from __future__ import annotations

import re

import httpx
import pytest

from alerting.store import SQLiteStore
from ingest.fixture_server import Reply, serve_fixtures
from tests.browser.conftest import ATTACKER_PASSWORD, PASSWORD, chromium_or_skip

pytestmark = [pytest.mark.integration, pytest.mark.browser]

Site = tuple[str, SQLiteStore, list[str]]


def _log_in(page: object, base: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill("lan")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Cảnh báo chờ xem xét")).to_be_visible()


def test_pages_carry_the_security_headers_and_work_under_them(site: Site) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, _, alert_ids = site
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), headless=True)
        page = browser.new_page()
        violations: list[str] = []
        page.on(
            "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
        )
        _log_in(page, base)
        response = page.goto(f"{base}/alerts/{alert_ids[0]}")
        assert response is not None
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        # Our own script still runs under the policy: the queue's keyboard keys work.
        page.goto(f"{base}/queue")
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=re.compile("Chi tiết cảnh báo"))).to_be_visible()
        assert violations == []
        browser.close()


def test_a_foreign_page_cannot_frame_the_logged_in_detail_page(site: Site) -> None:
    from playwright.sync_api import sync_playwright

    base, _, alert_ids = site
    with serve_fixtures() as attacker, sync_playwright() as playwright:
        target = f"{base}/alerts/{alert_ids[0]}"
        attacker.route(
            "/frame.html",
            Reply.text(
                f'<!doctype html><h1>Trúng thưởng!</h1><iframe src="{target}" width="900"></iframe>'
            ),
        )
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), headless=True)
        page = browser.new_page()
        _log_in(page, base)  # the victim is signed in: the frame would show their queue
        page.goto(attacker.url("/frame.html"))
        page.wait_for_timeout(1000)
        framed = [f for f in page.frames if f is not page.main_frame]
        assert len(framed) == 1
        # Blocked by frame-ancestors: Chromium shows its error page, not ours.
        assert "Chi tiết cảnh báo" not in framed[0].content()
        assert alert_ids[0] not in framed[0].content()
        browser.close()


def test_a_foreign_page_cannot_log_the_browser_in_as_the_attacker(site: Site) -> None:
    """Login CSRF: the attacker fetches a login form of their own, plants its pre-session
    cookie in the victim's browser (same host, other port) and posts their credentials."""
    from playwright.sync_api import expect, sync_playwright

    base, store, _ = site
    with httpx.Client(base_url=base) as own:
        form = own.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        presession = own.cookies["canhbao_login"]
    page_html = f"""<!doctype html><body>
<form id="f" method="post" action="{base}/login">
  <input name="csrf_token" value="{token.group(1)}"><input name="username" value="kedich">
  <input name="password" value="{ATTACKER_PASSWORD}"><input name="next" value="/queue">
</form>
<script>document.cookie = "canhbao_login={presession}; path=/";
document.getElementById("f").submit();</script>
</body>"""
    with serve_fixtures() as attacker, sync_playwright() as playwright:
        attacker.route("/win.html", Reply.text(page_html))
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), headless=True)
        page = browser.new_page()
        with page.expect_response(f"{base}/login") as answered:
            page.goto(attacker.url("/win.html"))
        assert answered.value.status == 403
        page.goto(f"{base}/queue")
        expect(page).to_have_url(re.compile(r"/login\?next=/queue"))  # not signed in as anyone
        browser.close()
    assert not [e for e in store.audit_log(limit=100) if e.action.value == "user.login"]
