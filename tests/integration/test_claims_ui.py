"""Known false claims in the review UI and the public corrections: an analyst turns a confirmed
alert into a draft, a supervisor (never an analyst) publishes it, a later repeat shows the claim
and the official rebuttal on its alert, and the public page, the Atom feed and the ClaimReview
JSON-LD carry it — with no staff name, no draft, and nothing a claim's text could inject."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.claims.evaluate import LabelledQuery
from alerting.claims.lexical import LexicalModel
from alerting.claims.library import SqliteClaimLibrary
from alerting.claims.matcher import read_matcher_card
from alerting.claims.runtime import LibraryMatching
from alerting.claims.training import LabelledSet, train_matcher
from alerting.store import SQLiteStore
from alerting.web import mount_review_ui
from schemas import AuditAction, utc_now
from stream_jobs.dedup import DedupIndex
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch
from tests.claims_data import CLAIMS, QUERIES
from tests.conftest import AUDIT_KEY, PASSWORD, line
from tests.integration.helpers import store_texts

pytestmark = pytest.mark.integration

FALSE_POST = ("Tin khẩn: Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới,"
              " mọi người rút tiền ngay.")  # fmt: skip
STATEMENT = "Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def world(tmp_path: Path, ctx: PipelineContext) -> dict[str, object]:
    store = SQLiteStore(tmp_path / "store.db", audit_key=AUDIT_KEY)
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    accounts = AccountStore(tmp_path / "accounts.db", hasher=hasher)
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    accounts.add_user("giamsat", PASSWORD, Role.SUPERVISOR)
    library = SqliteClaimLibrary(tmp_path / "claims.db", store)
    app = create_app(store, accounts=accounts, destinations=("cong_an", "so_tttt"))
    mount_review_ui(app, store, accounts, ("cong_an", "so_tttt"), secure_cookies=False,
                    claims=library)  # fmt: skip
    return {"store": store, "accounts": accounts, "library": library, "app": app,
            "tmp": tmp_path, "ctx": ctx}  # fmt: skip


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _login(app: object, user: str) -> TestClient:
    client = TestClient(app)  # type: ignore[arg-type]
    page = client.get("/login")
    done = client.post("/login", data={"csrf_token": _csrf(page.text), "username": user,
                                       "password": PASSWORD, "next": "/queue"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    return client


def _post(client: TestClient, page_url: str, url: str, **fields: str) -> object:
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": _csrf(page.text), **fields},
                       headers={"Origin": "http://testserver"}, follow_redirects=False)  # fmt: skip


def test_from_a_confirmed_alert_to_a_published_correction(world: dict[str, object]) -> None:
    store, library, app = world["store"], world["library"], world["app"]
    assert isinstance(store, SQLiteStore)
    assert isinstance(library, SqliteClaimLibrary)
    ctx = world["ctx"]
    assert isinstance(ctx, PipelineContext)
    first, second = store_texts(store, ctx, [FALSE_POST, "bọn bắc kỳ cút hết về quê đi"])[:2]
    lan = _login(app, "lan")
    detail = f"/alerts/{first}"

    early = _post(lan, detail, f"{detail}/known-claim", statement=STATEMENT)
    assert early.status_code == 409  # type: ignore[attr-defined]
    assert "Chỉ tạo tin sai từ cảnh báo đã được xác nhận." in early.text  # type: ignore[attr-defined]

    page = lan.get(detail)
    version = re.search(r'name="expected_version" value="(\d+)"', page.text)
    assert version
    confirmed = lan.post(f"{detail}/decision", data={
        "csrf_token": _csrf(page.text), "expected_version": version.group(1), "action": "confirm",
        "category": "misinformation", "reason": "Tin đồn đổi tiền đã bị bác bỏ",
    }, headers={"Origin": "http://testserver"}, follow_redirects=False)  # fmt: skip
    assert confirmed.status_code == 303
    assert "known-claim-form" in lan.get(detail).text

    rebuttal = {"rebuttal_text": "Ngân hàng Nhà nước khẳng định không có chủ trương đổi tiền.",
                "issuer": "Ngân hàng Nhà nước", "rebuttal_url": "https://sbv.gov.vn/bac-bo",
                "published_on": "2026-11-20", "rating": "false"}  # fmt: skip
    english = _post(lan, detail, f"{detail}/known-claim",
                    statement="The bank will change the money next month", **rebuttal)  # fmt: skip
    assert english.status_code == 422  # type: ignore[attr-defined]
    assert "does not read as Vietnamese" in english.text  # type: ignore[attr-defined]
    assert "Ngân hàng Nhà nước khẳng định" in english.text  # type: ignore[attr-defined]  # kept

    made = _post(lan, detail, f"{detail}/known-claim", statement=STATEMENT,
                 variants="ngan hang sap doi tien\ntiền cũ sắp mất giá", **rebuttal)  # fmt: skip
    assert made.status_code == 303  # type: ignore[attr-defined]
    claim_url = made.headers["location"].split("?")[0]  # type: ignore[attr-defined]
    claim_id = claim_url.rsplit("/", 1)[1]
    page = lan.get(claim_url + "?done=created")
    assert "Bản nháp" in page.text
    assert "Đang chờ giám sát viên công bố." in page.text
    assert "publish-form" not in page.text
    claim = library.get(claim_id)
    assert (claim.source_alert_id, claim.appearances) == (
        first,
        ["https://facebook.example.vn/x0"],
    ) or claim.source_alert_id == first

    anonymous = TestClient(app)  # type: ignore[arg-type]
    assert anonymous.get(f"/corrections/{claim_id}").status_code == 404  # a draft is not public
    refused = _post(lan, claim_url, f"{claim_url}/publish")
    assert refused.status_code == 403  # type: ignore[attr-defined]

    boss = _login(app, "giamsat")
    assert _post(boss, claim_url, f"{claim_url}/publish").status_code == 303  # type: ignore[attr-defined]
    assert "Đã công bố" in boss.get(claim_url).text
    actions = [(e.actor, e.action) for e in store.audit_log(target=claim_id, limit=50)]
    assert ("user:lan", AuditAction.CLAIM_CREATED) in actions
    assert ("user:giamsat", AuditAction.CLAIM_PUBLISHED) in actions

    # an edit needs the version it was made on, and sends the claim back to review
    claim_html = lan.get(claim_url).text
    version = re.search(r'name="expected_version" value="(\d+)"', claim_html)
    assert version
    edit = {**rebuttal, "csrf_token": _csrf(claim_html), "statement": STATEMENT,
            "variants": "ngan hang sap doi tien"}  # fmt: skip
    stale = lan.post(f"{claim_url}/edit", data={**edit, "expected_version": "1"},
                     headers={"Origin": "http://testserver"}, follow_redirects=False)  # fmt: skip
    assert stale.status_code == 409
    edited = lan.post(f"{claim_url}/edit", data={**edit, "expected_version": version.group(1)},
                      headers={"Origin": "http://testserver"}, follow_redirects=False)  # fmt: skip
    assert edited.status_code == 303
    assert library.get(claim_id).status.value == "draft"
    assert library.get(claim_id).variants == ["ngan hang sap doi tien"]
    assert _post(boss, claim_url, f"{claim_url}/publish").status_code == 303  # type: ignore[attr-defined]

    # the public side: no login, the claim and its rebuttal, no staff name anywhere
    listing = anonymous.get("/corrections")
    assert listing.status_code == 200
    assert STATEMENT in listing.text
    assert "Ngân hàng Nhà nước khẳng định" in listing.text
    assert not re.search(r"\b(lan|giamsat)\b|user:", listing.text.replace('lang="vi"', ""))
    feed = anonymous.get("/corrections.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == STATEMENT
    link = entry.find(f"{ATOM}link[@rel='alternate']")
    assert link is not None
    assert str(link.get("href")).endswith(f"/corrections/{claim_id}")
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "Ngân hàng Nhà nước"
    jsonld = anonymous.get(f"/corrections/{claim_id}.jsonld")
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    review = jsonld.json()
    assert (review["@type"], review["claimReviewed"]) == ("ClaimReview", STATEMENT)
    assert review["reviewRating"]["alternateName"] == "Sai sự thật"
    assert review["author"] == {"@type": "Organization", "name": "Ngân hàng Nhà nước"}
    assert review["datePublished"] == "2026-11-20"
    assert review["url"].endswith(f"/corrections/{claim_id}")
    page = anonymous.get(f"/corrections/{claim_id}")
    embedded = re.search(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S)
    assert embedded
    assert json.loads(embedded.group(1)) == review

    # a later repeat, matched in the pipeline, shows the claim and the rebuttal on its alert
    tmp = world["tmp"]
    assert isinstance(tmp, Path)
    queries = [LabelledQuery(f"q{i}", t, frozenset({g} if g else set()))
               for i, (t, g) in enumerate(QUERIES)]  # fmt: skip
    train_matcher([LabelledSet("hand", CLAIMS, queries)], tmp / "matcher", progress=lambda _: None)
    matching = LibraryMatching(library, read_matcher_card(tmp / "matcher"),
                               LexicalModel.load(tmp / "matcher"), None)  # fmt: skip
    later = "Cả nhà ơi, Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới đấy."
    # (another worker's dedup index: to this one the repeat is a near-duplicate of the first)
    fresh = dataclasses.replace(ctx, claims=matching, dedup=DedupIndex(capacity=1_000))
    now = utc_now().isoformat()  # collected today: inside the claim page's 30 days
    record = line(external_id="later", text=later, collected_at=now)
    result = process_batch([InboundRecord("t:later", record)], fresh)
    store.write_batch(stored_batch(result))
    (repeat,) = [a.alert_id for a in result.alerts]
    shown = boss.get(f"/alerts/{repeat}").text
    assert "Trùng với tin sai đã được bác bỏ" in shown
    assert "Ngân hàng Nhà nước khẳng định không có chủ trương đổi tiền." in shown
    # …and counts as a reappearance: on the claim's page (with its chart) and in the digest
    claim_page = boss.get(claim_url).text
    assert "Tổng: 1 bài đăng, trong đó 0 bản sao" in claim_page
    assert "<svg" in claim_page
    from alerting.digests.build import Period, period_bounds
    from alerting.digests.gather import digest_from_store
    from alerting.digests.render import render_html
    from alerting.views import LOCAL_TZ

    start, end = period_bounds(Period.DAY, utc_now().astimezone(LOCAL_TZ).date())
    digest = digest_from_store(store, Period.DAY, start, end, library)
    (refuted,) = digest.refuted
    assert (refuted.statement, refuted.reappeared, refuted.issuer) == (
        STATEMENT, 1, "Ngân hàng Nhà nước"
    )  # fmt: skip
    html = render_html(digest)
    assert "Tin sai đã bác bỏ và số lần xuất hiện lại trong kỳ" in html
    assert STATEMENT in html
    assert second


def test_a_claims_text_cannot_break_out_of_the_json_ld_script(world: dict[str, object]) -> None:
    from datetime import date

    from schemas import ClaimDraft, Rebuttal

    library, app = world["library"], world["app"]
    assert isinstance(library, SqliteClaimLibrary)
    evil = "Tin đồn nói rằng </script><script>alert(1)</script> tiền cũ sẽ mất giá trị từ tháng tới"
    claim = library.create(ClaimDraft(statement=evil, rebuttal=Rebuttal(
        text="<!-- không đúng --> Sai sự thật.", issuer="Bộ Tài chính",
        url="https://mof.gov.vn/x", published_on=date(2026, 11, 1))), "user:lan")  # fmt: skip
    library.publish(claim.claim_id, "user:giamsat", Role.SUPERVISOR)
    anonymous = TestClient(app)  # type: ignore[arg-type]
    page = anonymous.get(f"/corrections/{claim.claim_id}").text
    assert "<script>alert(1)" not in page
    assert "<!-- không" not in page
    embedded = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert embedded
    assert json.loads(embedded.group(1))["claimReviewed"] == evil
    feed = ET.fromstring(anonymous.get("/corrections.atom").content)
    title = feed.find(f"{ATOM}entry/{ATOM}title")
    assert title is not None
    assert title.text == evil
