"""The baseline model: training, persistence, prediction on any input, evidence, domains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import ClassifierInput, ModelNotFoundError
from classifiers.baseline import BaselineModel, Featurizer, train_baseline
from classifiers.evaluate import evaluate
from schemas import Classification, EvidenceKind, Label, PostKind, SkipReason
from tests.conftest import ODD_TEXTS, TINY_OPTIONS

ID = "0" * 32


def one(model: BaselineModel, text: str, **kw: Any) -> Classification:
    return model.predict([ClassifierInput(ID, text, **kw)])[0]


def test_model_card_records_data_hashes_and_dev_metrics(tiny_model_dir: Path) -> None:
    card = json.loads((tiny_model_dir / "model.json").read_text(encoding="utf-8"))
    assert set(card["heads"]) == {"hostile", "toxic", "misinformation", "clickbait", "spam"}
    assert all(len(entry["sha256"]) == 64 for entry in card["data"].values())
    for head in card["heads"].values():
        assert 0.0 <= head["dev"]["macro_f1"] <= 1.0
        assert head["thresholds"]


def test_tiny_model_learns_its_data(tiny_model: BaselineModel) -> None:
    hate = one(tiny_model, "bọn bắc kỳ cút hết về quê", kind=PostKind.COMMENT)
    clean = one(tiny_model, "cảm ơn bạn đã chia sẻ thông tin hữu ích", kind=PostKind.COMMENT)
    assert hate.scores[Label.HATE] > 0.5 > clean.scores[Label.HATE]
    assert Label.HATE in hate.labels


def test_save_and_load_round_trip(tiny_model: BaselineModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    again = BaselineModel.load(tmp_path)
    inputs = [ClassifierInput(ID, "đm nói nhảm vl"), ClassifierInput(ID, "trời đẹp")]
    first = [c.scores for c in tiny_model.predict(inputs)]
    second = [c.scores for c in again.predict(inputs)]
    assert first == second


def test_missing_model_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="canhbao train baseline"):
        BaselineModel.load(tmp_path)


@pytest.mark.parametrize(("text", "outcome"), ODD_TEXTS)
def test_predict_has_a_defined_outcome_for_any_text(
    tiny_model: BaselineModel, text: str, outcome: SkipReason | None
) -> None:
    result = one(tiny_model, text)
    assert result.skipped is outcome
    if outcome is not None:
        assert result.scores == {}
        assert result.labels == []
    else:
        assert set(result.scores) >= {Label.HATE, Label.OFFENSIVE, Label.TOXIC}


def test_heads_run_only_inside_their_domain(tiny_model: BaselineModel) -> None:
    comment = one(tiny_model, "inbox nhận ngay mã giảm giá", kind=PostKind.COMMENT)
    review = one(tiny_model, "inbox nhận ngay mã giảm giá", kind=PostKind.REVIEW)
    assert Label.SPAM not in comment.scores
    assert Label.MISINFORMATION not in comment.scores
    assert Label.SPAM in review.scores
    titled = one(tiny_model, "đoạn mở đầu", title="sốc cô gái làm điều này", kind=PostKind.ARTICLE)
    assert Label.CLICKBAIT in titled.scores
    assert Label.CLICKBAIT not in one(tiny_model, "đoạn mở đầu", kind=PostKind.ARTICLE).scores


def test_evidence_points_at_the_words_that_drove_the_label(tiny_model: BaselineModel) -> None:
    text = "Bọn bắc kỳ cút hết về quê"
    result = one(tiny_model, text, kind=PostKind.COMMENT)
    evidence = [
        e for e in result.evidence if e.label is Label.HATE and e.kind is EvidenceKind.NGRAM
    ]
    assert evidence
    assert all(e.weight > 0 for e in evidence)
    located = [e for e in evidence if e.start is not None and e.end is not None]
    assert located
    for e in located:
        assert text[e.start : e.end].lower() == e.text


def test_word_columns_are_those_the_featurizer_counts(tiny_model: BaselineModel) -> None:
    featurizer: Featurizer = tiny_model.featurizer
    counts = featurizer.counts(["xin chào"])
    word_columns = {c for c in counts.indices if c < 2**featurizer.config.word_bits}
    assert word_columns == set(featurizer.word_columns(["xin", "chào", "xin chào"]).tolist())


_TEXTS = st.lists(
    st.sampled_from(["ngu", "vãi", "đồ", "chó", "a", "😡", "!!", "<url>", "xin chào", "\u0300"]),
    max_size=10,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXTS, min_size=1, max_size=6))
def test_the_featurizer_counts_every_ngram_and_each_text_alone(texts: list[str]) -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    from classifiers.baseline.features import FeatureConfig, word_ngrams
    from classifiers.text import fold

    featurizer = Featurizer(FeatureConfig())
    counts = featurizer.counts(texts)
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False)
    for i, text in enumerate(texts):
        # as many n-grams as scikit-learn's analyzers make (columns may collide, counts add up)
        expected = len(word_ngrams(text)) + len(chars.build_analyzer()(fold(text)))
        assert counts[i].sum() == expected
        # a text's row does not depend on the batch it came in
        alone = featurizer.counts([text])
        assert (alone != counts[i]).nnz == 0


def test_evaluate_reports_the_contract(tiny_model: BaselineModel, tiny_data: Path) -> None:
    report = evaluate(tiny_model, "vihsd", tiny_data / "vihsd/dev.csv")
    assert report["dataset"] == "vihsd"
    assert report["n"] == 120
    assert report["empty_rows"] == 1
    assert set(report["per_class"]) == {"clean", "offensive", "hate"}
    assert np.array(report["confusion"]).sum() == 120
    assert report["model"].startswith("canhbao-baseline@")
    binary = evaluate(tiny_model, "reintel", tiny_data / "reintel/train.csv")
    assert binary["roc_auc"] is not None
    spans = evaluate(tiny_model, "vihos", tiny_data / "vihos/dev.csv")
    assert spans["n"] == 62
    assert spans["empty_rows"] == 1
    assert 0.0 < spans["span_char_f1"] <= 1.0


def test_span_evidence_marks_the_offending_words(tiny_model: BaselineModel) -> None:
    assert tiny_model.spans is not None
    assert tiny_model.card["spans"]["dev"]["char_f1"] > 0.5
    text = "Bọn bắc kỳ cút hết về quê đi, lũ ngu"
    result = one(tiny_model, text, kind=PostKind.COMMENT)
    spans = [e for e in result.evidence if e.kind is EvidenceKind.SPAN]
    assert spans
    for e in spans:
        assert e.start is not None
        assert e.end is not None
        assert text[e.start : e.end] == e.text
        assert e.label in (Label.HATE, Label.OFFENSIVE, Label.TOXIC)
    assert any("ngu" in e.text.lower() or "cút" in e.text.lower() for e in spans)
    clean = one(tiny_model, "hôm nay trời đẹp quá đi chơi thôi", kind=PostKind.COMMENT)
    assert not [e for e in clean.evidence if e.kind is EvidenceKind.SPAN]


def test_a_model_trained_without_vihos_shows_no_spans_and_leaves_none_behind(
    tiny_data: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    out = tmp_path / "model"
    train_baseline(data, out, TINY_OPTIONS, progress=lambda _: None)
    assert (out / "spans.json").is_file()
    shutil.rmtree(data / "vihos")
    (data / "vihos").mkdir()
    model = train_baseline(data, out, TINY_OPTIONS, progress=lambda _: None)
    assert model.spans is None
    assert not (out / "spans.json").exists()
    assert BaselineModel.load(out).spans is None


@pytest.mark.parametrize("text", [".", "t", "😂😂😂", "!!!"])
def test_a_review_without_letters_is_scored_for_spam_and_nothing_else(
    tiny_model: BaselineModel, text: str
) -> None:
    """Junk reviews are the spam signal (every letterless ViSpamReviews row is spam); the same
    text as a comment is still declined, and no hostile head judges it."""
    review = one(tiny_model, text, kind=PostKind.REVIEW)
    assert review.skipped is None
    assert set(review.scores) == {Label.SPAM}
    comment = one(tiny_model, text, kind=PostKind.COMMENT)
    assert comment.skipped is SkipReason.NO_TEXT
    assert comment.scores == {}


def _regex_locate(text: str, ngram: str) -> tuple[int, int] | None:
    """The reference: the words in order, only non-word characters between, any case."""
    import re

    words = [w for w in ngram.split(" ") if w]
    if not words or any(w.startswith("<") for w in words):
        return None
    pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"
    match = re.search(pattern, text, flags=re.IGNORECASE)
    return match.span() if match else None


_VOCAB = ["ngu", "Ngu", "vãi", "VÃI", "thật", "đồ", "chó", "ngư", "#ngu", "!", "<url>", "2", "_x"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_VOCAB), max_size=12),
    st.lists(st.sampled_from([" ", ", ", "...", " - ", "\n", "", "😡"]), min_size=12, max_size=12),
    st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=3),
)
def test_evidence_is_located_where_the_regular_expression_finds_it(
    words: list[str], gaps: list[str], ngram: list[str]
) -> None:
    from classifiers.baseline.model import _Words

    text = "".join(w + g for w, g in zip(words, gaps, strict=False))
    query = " ".join(w.casefold() for w in ngram)
    assert _Words(text).locate(query) == _regex_locate(text, query)
