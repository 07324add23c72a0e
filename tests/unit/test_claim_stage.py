"""The claim stage in `process_batch`: a post repeating a published false claim gets the claim
as evidence and an alert for analysts (even when the classifier flagged nothing); a failing
matcher costs matches, never posts; routing weighs strong matches above suggestions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from alerting.claims.fusion import Fusion
from alerting.claims.index import ClaimIndex, IndexedText
from alerting.claims.matcher import ClaimMatch, ClaimMatcher, MatchPolicy, post_units
from classifiers.text import normalize_text
from schemas import EvidenceKind, Label, Severity
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from tests.claims_data import CLAIMS
from tests.conftest import line

IDS = {cid: f"clm-{i:016x}" for i, (cid, _) in enumerate(CLAIMS, 1)}


class LexicalMatching:
    """The real matcher over the hand-written claims, lexical fusion, as `LibraryMatching`
    presents it to the stage."""

    needs_vectors = False

    def __init__(self) -> None:
        texts = [IndexedText(IDS[cid], normalize_text(t)) for cid, t in CLAIMS]
        self.matcher = ClaimMatcher(
            ClaimIndex(texts), Fusion((8.0, 8.0), -5.0, vectors=False), MatchPolicy(0.5, 0.95),
            statements={t.claim_id: t.text for t in texts},
        )  # fmt: skip

    def match_posts(
        self, passages: Sequence[str], vectors: np.ndarray | None, now: datetime, limit: int = 3
    ) -> list[list[ClaimMatch]]:
        return self.matcher.match_posts(passages, vectors, now, limit)

    def statement(self, claim_id: str) -> str:
        return self.matcher.statement(claim_id)


class Broken(LexicalMatching):
    def match_posts(
        self, passages: Sequence[str], vectors: np.ndarray | None, now: datetime, limit: int = 3
    ) -> list[list[ClaimMatch]]:
        if len(passages) > 1 or "nổ" in passages[0]:
            raise RuntimeError("matcher bug")
        return super().match_posts(passages, vectors, now, limit)


REPEAT = (
    "Tin khẩn cho cả nhà. Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới."
    " Mọi người ra ngân hàng rút hết tiền ngay đi kẻo không kịp."
)
CALM = "Hôm nay trời đẹp quá, cả nhà đi dạo công viên và ăn kem."


def _records(*texts: str) -> list[InboundRecord]:
    return [InboundRecord(f"t:{i}", line(external_id=str(i), text=t)) for i, t in enumerate(texts)]


def test_a_repeat_of_a_published_claim_becomes_claim_evidence_and_an_alert(
    ctx: PipelineContext,
) -> None:
    result = process_batch(
        _records(REPEAT, CALM), dataclasses.replace(ctx, claims=LexicalMatching())
    )
    assert len(result.posts) == 2
    repeat, calm = result.classifications
    evidence = [e for e in repeat.evidence if e.kind is EvidenceKind.CLAIM]
    assert [e.claim_id for e in evidence] == [IDS["c04"]]
    assert evidence[0].text == normalize_text(dict(CLAIMS)["c04"])
    assert evidence[0].strength == "strong"
    assert repeat.evidence[0].kind is EvidenceKind.CLAIM  # read first
    assert not [e for e in calm.evidence if e.kind is EvidenceKind.CLAIM]
    (alert,) = [a for a in result.alerts if a.post_id == result.posts[0].post_id]
    assert Label.MISINFORMATION in alert.labels
    assert alert.severity.rank >= Severity.HIGH.rank
    assert "so_tttt" in alert.destination_candidates


def test_without_a_claim_library_the_same_posts_get_no_claim_evidence(
    ctx: PipelineContext,
) -> None:
    result = process_batch(_records(REPEAT), ctx)
    assert not [e for e in result.classifications[0].evidence if e.kind is EvidenceKind.CLAIM]


def test_a_failing_matcher_costs_matches_never_posts(ctx: PipelineContext) -> None:
    bomb = "Đập thủy điện sắp nổ tung, ai ở gần chạy ngay đi, tin từ người quen làm ở đó."
    result = process_batch(_records(REPEAT, bomb), dataclasses.replace(ctx, claims=Broken()))
    assert len(result.posts) == 2
    assert not result.dead_letters
    found = [[e.claim_id for e in c.evidence if e.kind is EvidenceKind.CLAIM]
             for c in result.classifications]  # fmt: skip
    assert found == [[IDS["c04"]], []]


def test_a_post_is_matched_sentence_by_sentence() -> None:
    units = post_units("Tiêu đề bài viết\nCâu thứ nhất. Câu thứ hai!  Câu ba? Còn nữa…")
    assert units == ["Tiêu đề bài viết", "Câu thứ nhất.", "Câu thứ hai!", "Câu ba?", "Còn nữa…"]
    long_post = " ".join(["Một câu dài về chuyện khác trong ngày hôm nay."] * 40)
    matcher = LexicalMatching()
    buried = long_post + " Vắc xin gây vô sinh ở phụ nữ trẻ tuổi."
    assert matcher.match_posts([buried], None, datetime(2026, 12, 4))[0] == []  # past 24 units
    early = "Vắc xin gây vô sinh ở phụ nữ trẻ tuổi, ai cũng nên biết. " + long_post
    (match,) = matcher.match_posts([early], None, datetime(2026, 12, 4))[0]
    assert match.claim_id == IDS["c09"]
