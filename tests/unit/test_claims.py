"""Claim matching, pure parts: the index (lexical over folded text, vectors, variants), the
fusion, the thresholds, the metrics, the matcher's downgrades, and the hard dev set."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.claims.devsets import story_lead_set, strip_agency_prefix
from alerting.claims.evaluate import (
    LabelledQuery,
    average_precision_at,
    read_queries,
    retrieval_metrics,
)
from alerting.claims.fusion import Fusion, candidate_features
from alerting.claims.index import Candidate, ClaimIndex, IndexedText
from alerting.claims.matcher import ClaimMatcher, MatchPolicy, MatchStrength
from alerting.claims.training import LabelledSet, choose_threshold, train_matcher
from alerting.exceptions import ClaimError
from classifiers.text import normalize_text
from tests.claims_data import CLAIMS, QUERIES

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _index(vectors: np.ndarray | None = None) -> ClaimIndex:
    return ClaimIndex([IndexedText(cid, normalize_text(t)) for cid, t in CLAIMS], vectors)


def _queries() -> list[LabelledQuery]:
    return [
        LabelledQuery(f"q{i:02d}", normalize_text(text), frozenset({gold} if gold else set()))
        for i, (text, gold) in enumerate(QUERIES)
    ]


def test_lexical_search_finds_the_claim_typed_without_diacritics_or_as_a_quote() -> None:
    index = _index()
    found = index.candidates(
        [
            "uong nuoc chanh nong moi sang giup chua khoi benh ung thu",
            "Bác sĩ nói: “tỏi sống ngâm rượu tiêu diệt virus cúm”",
        ]
    )
    assert found[0][0].claim_id == "c01"
    assert found[1][0].claim_id == "c02"
    assert found[0][0].lexical > found[0][1].lexical
    assert all(c.vector is None for c in found[0])


def test_lexical_ranking_puts_the_right_claim_first_on_most_hand_written_repeats() -> None:
    queries = [q for q in _queries() if q.gold]
    found = _index().candidates([q.text for q in queries])
    right = sum(c[0].claim_id in q.gold for c, q in zip(found, queries, strict=True))
    assert right / len(queries) >= 0.9


def test_a_claim_is_as_close_as_its_closest_variant() -> None:
    texts = [
        IndexedText("a", "Uống nước chanh nóng chữa ung thư"),
        IndexedText("a", "Ăn tỏi sống mỗi ngày trị dứt điểm tiểu đường"),
        IndexedText("b", "Mì tôm có sáp nến bọc ngoài"),
    ]
    index = ClaimIndex(texts)
    assert len(index) == 2
    top = index.candidates(["ăn tỏi sống mỗi ngày trị tiểu đường"])[0][0]
    assert top.claim_id == "a"
    assert top.lexical > 0.5


def test_vector_candidates_join_the_lexical_ones_and_every_candidate_has_both_scores() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(CLAIMS), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = _index(vectors)
    # a query with no word in common with c05, but c05's vector
    found = index.candidates(["xyz qwv"], vectors[4:5], k=2)[0]
    ids = {c.claim_id for c in found}
    assert "c05" in ids
    assert all(c.vector is not None for c in found)
    c05 = next(c for c in found if c.claim_id == "c05")
    assert c05.vector == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CLAIMS))
def test_every_claim_finds_itself_first(claim: tuple[str, str]) -> None:
    found = _INDEX.candidates([claim[1]])[0]
    assert found[0].claim_id == claim[0]
    assert found[0].lexical == pytest.approx(1.0, abs=1e-5)


_INDEX = _index()


def test_an_empty_library_or_mismatched_vectors_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ClaimIndex([])
    with pytest.raises(ValueError, match="vectors for"):
        ClaimIndex([IndexedText("a", "x y")], np.zeros((2, 4), np.float32))


def test_features_give_the_margin_over_the_best_other_candidate() -> None:
    cands = [Candidate("a", 0.9, 0.95), Candidate("b", 0.5, 0.97), Candidate("c", 0.2, 0.8)]
    f = candidate_features(cands, vectors=True)
    assert f[:, 1].tolist() == pytest.approx([0.4, -0.4, -0.7])
    assert f[:, 3].tolist() == pytest.approx([-0.02, 0.02, -0.17])
    assert candidate_features(cands[:1], vectors=False).tolist() == [[0.9, 0.9]]


def test_fusion_learns_that_high_scores_mean_a_match_and_round_trips() -> None:
    cands, gold = [], []
    rng = np.random.default_rng(1)
    for i in range(60):
        right = Candidate(f"r{i}", float(rng.uniform(0.5, 1.0)), None)
        wrong = [Candidate(f"w{i}{j}", float(rng.uniform(0.0, 0.4)), None) for j in range(4)]
        cands.append([right, *wrong])
        gold.append({f"r{i}"})
    fusion = Fusion.fit(cands, gold, vectors=False)
    scores = fusion.scores(cands[0])
    assert scores[0] > 0.5 > scores[1:].max()
    assert Fusion.from_json(json.loads(json.dumps(fusion.to_json()))) == fusion
    with pytest.raises(ValueError, match="both matching"):
        Fusion.fit([cands[0][1:]], [{"r0"}], vectors=False)


def test_thresholds_hold_both_the_precision_and_the_no_gold_rate() -> None:
    scores = np.linspace(1.0, 0.0, 100)
    correct = np.arange(100) < 60  # the 60 best are right
    no_gold = ~correct
    t = choose_threshold(scores, correct, no_gold, precision=0.8, false_rate=0.05)
    assert t is not None
    above = scores >= t
    assert correct[above].mean() >= 0.8
    assert no_gold[above].sum() / no_gold.sum() <= 0.05
    # only the lowest such t: one step lower breaks a condition
    lower = scores >= scores[above.sum()]
    assert no_gold[lower].sum() / no_gold.sum() > 0.05 or correct[lower].mean() < 0.8
    assert choose_threshold(scores, np.zeros(100, bool), no_gold, 0.8, 0.05) is None
    # a tie is never cut in two
    tied = np.asarray([0.9] * 30 + [0.1] * 30)
    got = choose_threshold(tied, np.arange(60) < 25, np.arange(60) >= 25, 0.8, 1.0)
    assert got == 0.9


def test_average_precision_and_metrics_on_a_worked_example() -> None:
    assert average_precision_at(["a", "x", "b"], frozenset({"a", "b"})) == pytest.approx(
        (1 + 2 / 3) / 2
    )
    assert average_precision_at(["x"], frozenset()) == 0.0
    queries = [
        LabelledQuery("1", "t", frozenset({"a"})),
        LabelledQuery("2", "t", frozenset({"b"})),
        LabelledQuery("3", "t", frozenset()),
        LabelledQuery("4", "t", frozenset()),
    ]
    ranked = [["a", "b"], ["a", "x", "y", "z", "w", "b"], ["a"], ["b"]]
    m = retrieval_metrics(ranked, [0.9, 0.4, 0.7, 0.2], queries, suggest=0.5)
    assert (m["success@1"], m["success@5"], m["success@10"]) == (0.5, 0.5, 1.0)
    assert m["map@5"] == 0.5
    assert m["no_gold_unmatched_at_suggest"] == 0.5
    assert m["matched_right_at_suggest"] == 0.5


def _matcher(stale_on: date | None = None, strong: float = 0.9) -> ClaimMatcher:
    fusion = Fusion((6.0, 6.0), -5.0, vectors=False)  # lexical 1.0 → 0.999, 0.3 → 0.05
    reviewed = {"c01": stale_on} if stale_on else {}
    return ClaimMatcher(_index(), fusion, MatchPolicy(suggest=0.5, strong=strong), reviewed)


def test_a_close_repeat_is_strong_and_an_unrelated_post_matches_nothing() -> None:
    long_repeat = "Mọi người ơi uống nước chanh nóng mỗi sáng giúp chữa khỏi bệnh ung thư nhé"
    matches = _matcher().match([long_repeat, "Hôm nay trời đẹp, đi dạo công viên thôi"], None, NOW)
    assert matches[0][0].claim_id == "c01"
    assert matches[0][0].strength is MatchStrength.STRONG
    assert matches[0][0].downgraded == ()
    assert matches[1] == []


def test_short_posts_and_stale_claims_are_only_suggestions() -> None:
    short = "nước chanh nóng chữa ung thư"
    got = _matcher(strong=0.5).match([short], None, NOW)[0][0]
    assert got.claim_id == "c01"
    assert (got.strength, got.downgraded) == (MatchStrength.SUGGEST, ("short_text",))
    long_repeat = "Uống nước chanh nóng mỗi sáng giúp chữa khỏi bệnh ung thư, chia sẻ cho cả nhà"
    stale = _matcher(stale_on=date(2024, 1, 1)).match([long_repeat], None, NOW)[0][0]
    assert (stale.strength, stale.downgraded) == (MatchStrength.SUGGEST, ("stale_claim",))
    fresh = _matcher(stale_on=date(2026, 11, 1)).match([long_repeat], None, NOW)[0][0]
    assert fresh.strength is MatchStrength.STRONG


def test_a_vector_fusion_needs_vectors() -> None:
    with pytest.raises(ClaimError, match="with vectors"):
        ClaimMatcher(_index(), Fusion((1, 1, 1, 1), 0.0, True), MatchPolicy(0.5, 0.9))
    with pytest.raises(ClaimError, match="suggest ≤ strong"):
        MatchPolicy(0.9, 0.5)


def test_training_on_the_hand_written_set_finds_thresholds_and_reports_each_method(
    tmp_path: Path,
) -> None:
    labelled = LabelledSet("hand", [(c, normalize_text(t)) for c, t in CLAIMS], _queries())
    card = train_matcher([labelled], tmp_path, embedder=None, progress=lambda _: None)
    assert set(card["dev"]["hand"]) == {"lexical", "hybrid"}
    hybrid = card["dev"]["hand"]["hybrid"]
    assert hybrid["success@1"] >= 0.9
    assert 0 < card["policy"]["suggest"] <= card["policy"]["strong"] <= 1
    assert card["encoder"] is None
    assert (tmp_path / "matcher.json").is_file()


def test_query_files_report_the_line_of_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"query_id": "a", "text": "x"}\n\n{"text": "no id"}\n', encoding="utf-8")
    with pytest.raises(ClaimError, match=r"q.jsonl:3: not a query"):
        read_queries(path)
    path.write_text('{"query_id": "a", "text": "x", "gold_claim_ids": "c1"}\n', "utf-8")
    with pytest.raises(ClaimError, match=r":1: not a query"):
        read_queries(path)
    path.write_text("[1]\n", encoding="utf-8")
    with pytest.raises(ClaimError, match=r":1: not a JSON object"):
        read_queries(path)


@given(st.text(min_size=0, max_size=60))
def test_stripping_an_agency_prefix_only_ever_removes_a_prefix(lead: str) -> None:
    stripped = strip_agency_prefix(lead)
    assert lead.endswith(stripped)


def test_agency_prefixes_go_and_place_names_stay() -> None:
    assert (
        strip_agency_prefix("TTO - Ngày 23-10, hàng nghìn người") == "Ngày 23-10, hàng nghìn người"
    )
    assert strip_agency_prefix("( Chinhphu.vn ) - Trước dự báo") == "Trước dự báo"
    assert strip_agency_prefix("(Dân trí) - Sáng nay") == "Sáng nay"
    assert strip_agency_prefix("Hà Nội - thủ đô") == "Hà Nội - thủ đô"


def test_the_story_set_pairs_leads_of_one_event_and_holds_some_events_out(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    rows = []
    for c in range(20):
        for d in range(3):
            lead = f"TTO - Sự kiện {c} bản {d}"
            rows.append({"cluster_id": f"k{c:02d}", "doc_id": f"d{c}-{d}",
                         "published": f"2013-10-{10 + d}T08:00", "lead": lead})  # fmt: skip
    rows.append({"cluster_id": "solo", "doc_id": "s", "published": "2013", "lead": "một mình"})
    docs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    claims, queries = story_lead_set(docs, no_claim_share=0.3)
    claim_ids = {cid for cid, _ in claims}
    assert all(text.startswith("Sự kiện") and text.endswith("bản 0") for _, text in claims)
    assert len(queries) == 40  # two later leads per event; the one-article cluster is left out
    assert all(q.gold <= claim_ids for q in queries)
    held_out = [q for q in queries if not q.gold]
    assert 0 < len(held_out) < len(queries)


def test_the_lexical_model_drops_stop_ngrams_of_a_large_corpus_and_round_trips(
    tmp_path: Path,
) -> None:
    from alerting.claims.lexical import LexicalModel

    corpus = [f"người dân hỏi về chuyện số {i} ở phường {i % 97}" for i in range(1_200)]
    model = LexicalModel.fit(corpus)
    rows = model.transform(["người dân", "chuyện số 5 ở phường 5", ""])
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    # "người dân" is in every text: a stop phrase, no feature left; the rest unit length
    assert norms.tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-5)
    # candidates come from rare words: "chuyện" is in every text, "phường 5" in 13 of 1,200
    rare = model.rare_words()
    common = model.transform(["chuyện"])[:, : rare.size].indices
    assert common.size == 0 or not rare[common].any()
    bigram = model.transform(["phường 5"])[:, : rare.size].indices
    assert rare[bigram].any()
    model.save(tmp_path)
    again = LexicalModel.load(tmp_path)
    assert (again.transform(corpus[:5]) != model.transform(corpus[:5])).nnz == 0
    small = LexicalModel.fit(corpus[:10])  # too few texts to call anything a stop word
    assert small.transform(["người dân"]).nnz > 0
    with pytest.raises(ClaimError, match="no lexical model"):
        LexicalModel.load(tmp_path / "nothing")


def test_reappearances_count_posts_per_local_day_and_platform() -> None:
    from alerting.claims.reappearance import reappearances
    from alerting.store.base import ClaimSighting

    def seen(at: datetime, platform: str = "facebook", copy: bool = False) -> ClaimSighting:
        return ClaimSighting("clm-a", "p", platform, at, copy)

    sightings = [
        seen(datetime(2026, 12, 2, 17, 30, tzinfo=UTC)),  # 00:30 on 3 December in Hà Nội
        seen(datetime(2026, 12, 3, 2, 0, tzinfo=UTC), "youtube", copy=True),
        seen(datetime(2026, 11, 1, 2, 0, tzinfo=UTC)),  # before the window
        ClaimSighting("clm-other", "p", "tiktok", datetime(2026, 12, 3, 2, tzinfo=UTC), False),
    ]
    back = reappearances(sightings, ["clm-a", "clm-b"], date(2026, 12, 4), days=3)
    assert list(back["clm-a"].by_day.items()) == [
        (date(2026, 12, 2), 0), (date(2026, 12, 3), 2), (date(2026, 12, 4), 0)
    ]  # fmt: skip
    assert back["clm-a"].by_platform == {"facebook": 1, "youtube": 1}
    assert (back["clm-a"].total, back["clm-a"].copies) == (2, 1)
    assert back["clm-b"].total == 0
    assert "clm-other" not in back
