"""Exact and near-duplicate detection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from classifiers.text import fold
from schemas import DuplicateKind
from stream_jobs.dedup import (
    DedupEntry,
    DedupIndex,
    DupVerdict,
    content_hash,
    dedup_words,
    jaccard_estimate,
    minhash_signature,
)

RUMOUR = (
    "Khẩn cấp người dân tại quận 7 cần chú ý nước máy bị nhiễm độc không nên uống nước từ vòi "
    "trong ba ngày tới theo nguồn tin nội bộ của công ty cấp nước"
)
OTHER = (
    "Giá vàng hôm nay tăng mạnh sau khi ngân hàng nhà nước công bố chính sách mới về lãi suất "
    "điều hành trong quý bốn năm nay theo báo cáo"
)


def add(index: DedupIndex, post_id: str, text: str) -> None:
    folded = fold(text)
    index.add(DedupEntry(post_id, content_hash(folded), index.signature_for(folded), post_id))


def check(index: DedupIndex, post_id: str, text: str) -> DupVerdict:
    folded = fold(text)
    return index.check(post_id, content_hash(folded), index.signature_for(folded))


def test_new_post_starts_its_own_cluster() -> None:
    verdict = check(DedupIndex(), "a", RUMOUR)
    assert verdict.kind is None
    assert verdict.cluster_id == "a"


def test_same_platform_item_again_is_same_post() -> None:
    index = DedupIndex()
    add(index, "a", RUMOUR)
    assert check(index, "a", RUMOUR).kind is DuplicateKind.SAME_POST


def test_exact_duplicate_ignores_case_accents_and_spacing() -> None:
    index = DedupIndex()
    add(index, "a", RUMOUR)
    verdict = check(index, "b", "  " + fold(RUMOUR).upper() + " ")
    assert verdict.kind is DuplicateKind.EXACT
    assert verdict.duplicate_of == "a"


def test_near_duplicates_with_appended_link_or_edit_share_the_cluster() -> None:
    index = DedupIndex()
    add(index, "a", RUMOUR)
    for i, variant in enumerate(
        [
            RUMOUR + " chia sẻ ngay",
            RUMOUR + " #tinnong https://bit.ly/x",
            RUMOUR.replace("ba ngày", "hai ngày"),
        ]
    ):
        verdict = check(index, f"v{i}", variant)
        assert verdict.kind is DuplicateKind.NEAR, variant
        assert verdict.cluster_id == "a"


def test_unrelated_post_is_new() -> None:
    index = DedupIndex()
    add(index, "a", RUMOUR)
    assert check(index, "b", OTHER).kind is None


def test_short_texts_only_match_exactly() -> None:
    index = DedupIndex(min_tokens=8)
    add(index, "a", "cảm ơn ad nhiều nha")
    assert check(index, "b", "cảm ơn ad nhiều lắm").kind is None
    assert check(index, "c", "Cảm ơn AD nhiều nha").kind is DuplicateKind.EXACT


def test_capacity_evicts_oldest_first() -> None:
    index = DedupIndex(capacity=2)
    add(index, "a", RUMOUR)
    add(index, "b", OTHER)
    add(index, "c", "một bài hoàn toàn khác về thời tiết ngày mai ở thành phố hồ chí minh")
    assert len(index) == 2
    assert check(index, "z", RUMOUR).kind is None  # "a" was evicted
    assert check(index, "z", OTHER).kind is DuplicateKind.EXACT


def test_discard_forgets_a_post() -> None:
    index = DedupIndex()
    add(index, "a", RUMOUR)
    index.discard("a")
    assert check(index, "a", RUMOUR).kind is None
    index.discard("missing")  # no error


@given(st.lists(st.text(alphabet="abcdeghiklmnou", min_size=1, max_size=6), max_size=60))
def test_signature_is_deterministic_and_self_similar(words: list[str]) -> None:
    first = minhash_signature(words)
    assert first == minhash_signature(list(words))
    assert jaccard_estimate(first, first) == 1.0
    assert len(first) == 128


def test_dedup_words_drop_links_mentions_hashtags() -> None:
    assert dedup_words("xem https://x.vn/a @lan #tin ngay") == ["xem", "ngay"]
