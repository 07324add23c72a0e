"""The claim library (SQLite): drafts, publication rights, versions, append-only history, the
shared audit log, stored vectors; and the ClaimReview / CSV importers (all or nothing)."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.accounts.roles import Role
from alerting.claims.importers import read_claim_file, read_claimreview, read_csv_claims
from alerting.claims.library import SqliteClaimLibrary
from alerting.exceptions import ClaimError, DecisionConflict
from classifiers.embedding import PostEmbedding
from schemas import AuditAction, ClaimDraft, ClaimRating, ClaimStatus, Rebuttal

REBUTTAL = Rebuttal(
    text="Bộ Y tế khẳng định nước chanh không chữa được ung thư.",
    issuer="Bộ Y tế",
    url="https://moh.gov.vn/tin-tuc/bac-bo-nuoc-chanh",
    published_on=date(2026, 11, 20),
)
DRAFT = ClaimDraft(
    statement="Uống nước chanh nóng mỗi sáng giúp chữa khỏi bệnh ung thư",
    variants=[
        "uong nuoc chanh nong chua khoi ung thu",
        "Uống nước chanh nóng mỗi sáng giúp chữa khỏi bệnh ung thư",  # the statement again
    ],
    rebuttal=REBUTTAL,
    tags=[" Sức khỏe ", "sức khỏe"],
)  # fmt: skip


class Audit:
    def __init__(self) -> None:
        self.events: list[tuple[str, AuditAction, str, str | None, dict[str, Any]]] = []

    def record_audit(
        self,
        actor: str,
        action: AuditAction,
        target: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.events.append((actor, action, target, reason, details or {}))


class Encoder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.ones((len(texts), 4), dtype=np.float32)
        return out / 2.0

    def embed_posts(self, passages: Sequence[str]) -> list[PostEmbedding]:
        return [PostEmbedding(self.name, v) for v in self.embed(passages)]


@pytest.fixture
def audit() -> Audit:
    return Audit()


@pytest.fixture
def library(tmp_path: Path, audit: Audit) -> SqliteClaimLibrary:
    return SqliteClaimLibrary(tmp_path / "claims.db", audit)


def test_a_claim_starts_as_a_normalised_draft_and_is_audited(
    library: SqliteClaimLibrary, audit: Audit
) -> None:
    claim = library.create(
        DRAFT.model_copy(update={"source_alert_id": "al_" + "a" * 32}), "user:lan"
    )
    assert claim.status is ClaimStatus.DRAFT
    assert claim.version == 1
    assert claim.variants == ["uong nuoc chanh nong chua khoi ung thu"]  # the repeat dropped
    assert claim.tags == ["sức khỏe"]
    assert library.get(claim.claim_id) == claim
    assert audit.events == [("user:lan", AuditAction.CLAIM_CREATED, claim.claim_id, None,
                             {"source_alert_id": "al_" + "a" * 32})]  # fmt: skip


def test_only_a_supervisor_publishes_and_only_with_a_rebuttal(
    library: SqliteClaimLibrary, audit: Audit
) -> None:
    claim = library.create(DRAFT, "user:lan")
    with pytest.raises(PermissionError):
        library.publish(claim.claim_id, "user:lan", Role.ANALYST)
    bare = library.create(DRAFT.model_copy(update={"statement": "Tỏi sống ngâm rượu diệt virus cúm",
                                                   "rebuttal": None}), "user:lan")  # fmt: skip
    with pytest.raises(ClaimError, match="no official rebuttal"):
        library.publish(bare.claim_id, "user:minh", Role.SUPERVISOR)
    published = library.publish(claim.claim_id, "user:minh", Role.SUPERVISOR)
    assert (published.status, published.version) == (ClaimStatus.PUBLISHED, 2)
    with pytest.raises(ClaimError, match="not a draft"):
        library.publish(claim.claim_id, "user:minh", Role.SUPERVISOR)
    assert audit.events[-1][:3] == ("user:minh", AuditAction.CLAIM_PUBLISHED, claim.claim_id)
    assert [c.claim_id for c in library.claims(ClaimStatus.PUBLISHED)] == [claim.claim_id]


def test_an_edit_needs_the_current_version_and_sends_a_published_claim_back_to_review(
    library: SqliteClaimLibrary,
) -> None:
    claim = library.create(DRAFT, "user:lan")
    library.publish(claim.claim_id, "user:minh", Role.SUPERVISOR)
    new = DRAFT.model_copy(update={"variants": ["nước chanh nóng trị ung thư"]})
    with pytest.raises(DecisionConflict):
        library.update(claim.claim_id, new, "user:lan", expected_version=1)
    edited = library.update(claim.claim_id, new, "user:lan", expected_version=2)
    assert (edited.status, edited.version) == (ClaimStatus.DRAFT, 3)
    assert edited.variants == ["nước chanh nóng trị ung thư"]
    history = library.history(claim.claim_id)
    assert [(h.version, h.action, h.claim.status) for h in history] == [
        (1, AuditAction.CLAIM_CREATED, ClaimStatus.DRAFT),
        (2, AuditAction.CLAIM_PUBLISHED, ClaimStatus.PUBLISHED),
        (3, AuditAction.CLAIM_UPDATED, ClaimStatus.DRAFT),
    ]


def test_a_retired_claim_keeps_its_history_and_is_not_edited(library: SqliteClaimLibrary) -> None:
    claim = library.create(DRAFT, "user:lan")
    with pytest.raises(PermissionError):
        library.retire(claim.claim_id, "user:lan", Role.ANALYST, "cũ")
    with pytest.raises(ClaimError, match="needs a reason"):
        library.retire(claim.claim_id, "user:minh", Role.SUPERVISOR, " ")
    retired = library.retire(claim.claim_id, "user:minh", Role.SUPERVISOR, "thông tin đã cũ")
    assert retired.status is ClaimStatus.RETIRED
    with pytest.raises(ClaimError, match="retired"):
        library.update(claim.claim_id, DRAFT, "user:lan", expected_version=2)
    assert library.history(claim.claim_id)[-1].reason == "thông tin đã cũ"


def test_history_rows_cannot_be_changed_or_deleted(
    library: SqliteClaimLibrary, tmp_path: Path
) -> None:
    library.create(DRAFT, "user:lan")
    db = sqlite3.connect(tmp_path / "claims.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE claim_history SET actor = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM claim_history")


def test_bad_claim_texts_get_a_clear_error_and_a_batch_is_all_or_nothing(
    library: SqliteClaimLibrary,
) -> None:
    for text, reason in [("  ", "empty"), ("x " * 600, "characters"),
                         ("The vaccine causes infertility in women", "Vietnamese"),
                         ("hai từ", "words")]:  # fmt: skip
        with pytest.raises(ClaimError, match=reason):
            library.create(DRAFT.model_copy(update={"statement": text}), "user:lan")
    bad = DRAFT.model_copy(update={"statement": "Hello world this is English"})
    with pytest.raises(ClaimError):
        library.create_many([DRAFT, bad], "user:lan", source="file:x.csv")
    assert library.claims() == []


def test_published_texts_carry_vectors_encoded_once_per_encoder(
    library: SqliteClaimLibrary,
) -> None:
    claim = library.create(DRAFT, "user:lan")
    assert library.published_texts(Encoder("e1")) == []  # drafts are not matched
    library.publish(claim.claim_id, "user:minh", Role.SUPERVISOR)
    first = Encoder("e1")
    texts = library.published_texts(first)
    assert [t.text for t in texts] == [claim.statement, *claim.variants]
    assert first.calls == 2
    assert all(t.vector is not None and t.vector.shape == (4,) for t in texts)
    again = Encoder("e1")
    library.published_texts(again)
    assert again.calls == 0  # stored with the claim
    other = Encoder("e2")
    library.published_texts(other)
    assert other.calls == 2  # another encoder's vectors are never mixed in
    assert [t.vector for t in library.published_texts(None)] == [None, None]


CLAIMREVIEW = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "url": "https://baochinhphu.vn/bac-bo-tin-doi-tien",
    "claimReviewed": "Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới",
    "author": {"@type": "Organization", "name": "Ngân hàng Nhà nước Việt Nam"},
    "datePublished": "2026-11-02",
    "reviewRating": {"@type": "Rating", "alternateName": "Sai sự thật"},
    "reviewBody": "Ngân hàng Nhà nước không có kế hoạch đổi tiền.",
    "itemReviewed": {"@type": "Claim", "appearance": [{"url": "https://example.org/p/1"}]},
    "keywords": "tiền tệ, lừa đảo",
}


def test_claimreview_objects_lists_and_graphs_import(tmp_path: Path) -> None:
    path = tmp_path / "cr.json"
    for document in (CLAIMREVIEW, [CLAIMREVIEW], {"@graph": [CLAIMREVIEW]}):
        path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
        (draft,) = read_claimreview(path)
        assert draft.rating is ClaimRating.FALSE
        assert draft.rebuttal is not None
        assert draft.rebuttal.issuer == "Ngân hàng Nhà nước Việt Nam"
        assert draft.rebuttal.published_on == date(2026, 11, 2)
        assert draft.appearances == ["https://example.org/p/1"]
        assert draft.tags == ["lừa đảo", "tiền tệ"]


def test_a_claimreview_file_with_bad_records_lists_each_and_imports_none(tmp_path: Path) -> None:
    bad_rating = {**CLAIMREVIEW, "reviewRating": {"alternateName": "Có lẽ"}}
    no_date = {k: v for k, v in CLAIMREVIEW.items() if k != "datePublished"}
    bad_url = {**CLAIMREVIEW, "url": "javascript:alert(1)"}
    path = tmp_path / "cr.json"
    path.write_text(json.dumps([CLAIMREVIEW, bad_rating, no_date, bad_url, 7]), "utf-8")
    with pytest.raises(ClaimError) as caught:
        read_claimreview(path)
    message = str(caught.value)
    assert "4 bad record(s), nothing imported" in message
    for where, why in [("[1]", "unknown rating"), ("[2]", "publication date"),
                       ("[3]", "url"), ("[4]", "not a ClaimReview")]:  # fmt: skip
        assert any(line.strip().startswith(where) and why in line for line in message.splitlines())
    path.write_text("{not json", "utf-8")
    with pytest.raises(ClaimError, match="not JSON"):
        read_claimreview(path)


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


ROW = {
    "statement": "Vắc xin gây vô sinh ở phụ nữ trẻ tuổi",
    "variants": "vac xin gay vo sinh | tiêm vắc xin là vô sinh",
    "rating": "false",
    "rebuttal_text": "Bộ Y tế: không có bằng chứng vắc xin gây vô sinh.",
    "issuer": "Bộ Y tế",
    "rebuttal_url": "https://moh.gov.vn/bac-bo",
    "published_on": "2026-10-01",
    "tags": "y tế",
}


def test_csv_rows_import_and_bad_lines_are_named(tmp_path: Path) -> None:
    (draft,) = read_csv_claims(_csv(tmp_path / "ok.csv", [ROW]))
    assert draft.variants == ["vac xin gay vo sinh", "tiêm vắc xin là vô sinh"]
    rows = [
        ROW,
        {**ROW, "rating": "hmm"},
        {**ROW, "published_on": "01/10/2026"},
        {**ROW, "statement": ""},
    ]
    with pytest.raises(ClaimError) as caught:
        read_csv_claims(_csv(tmp_path / "bad.csv", rows))
    message = str(caught.value)
    assert "3 bad record(s)" in message
    assert "line 3: unknown rating" in message
    assert "line 4: Invalid isoformat string: '01/10/2026'" in message
    assert "line 5: statement: String should have at least 1 character" in message
    missing = tmp_path / "missing.csv"
    missing.write_text("statement,rating\nx,false\n", "utf-8")
    with pytest.raises(ClaimError, match="missing column"):
        read_claim_file(missing)
    with pytest.raises(ClaimError, match="not found"):
        read_claim_file(tmp_path / "nope.csv")


_VIET_WORDS = st.sampled_from(
    ["tin", "giả", "vắc", "xin", "chữa", "khỏi", "ung", "thư", "đổi", "tiền", "ngân", "hàng",
     "người", "dân", "sẽ", "bị", "phạt", "từ", "tháng", "sau", "không", "được", "dùng", "nước"]
)  # fmt: skip


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_VIET_WORDS, min_size=4, max_size=30), st.sampled_from([",", '"', "\n", ";"]))
def test_csv_statements_survive_quoting(tmp_path: Path, words: list[str], odd: str) -> None:
    statement = "Người dân sẽ bị phạt " + " ".join(words[:2]) + odd + " ".join(words[2:])
    (draft,) = read_csv_claims(_csv(tmp_path / "p.csv", [{**ROW, "statement": statement}]))
    assert draft.statement.split() == statement.split()


def test_every_published_claim_is_listed_for_the_matcher_beyond_a_page(
    library: SqliteClaimLibrary,
) -> None:
    statements = [f"Tin đồn số {i} nói người dân sẽ bị phạt tiền" for i in range(12)]
    drafts = [DRAFT.model_copy(update={"statement": s}) for s in statements]
    for claim in library.create_many(drafts, "user:lan", source="file:x.csv"):
        library.publish(claim.claim_id, "user:minh", Role.SUPERVISOR)
    assert len(library.claims(ClaimStatus.PUBLISHED, limit=5)) == 5  # a page
    assert len(library.published_claims()) == 12  # all of them
