"""The PhoBERT path on tiny PhoBERT-shaped models built by the tests (own vocab.txt and
bpe.codes, a 2-layer RoBERTa): loading, fine-tuning, every backend, windows, odd inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason="the PhoBERT path needs the `phobert` extra")

from classifiers import ClassifierInput, ModelNotFoundError
from classifiers.datasets import read_dataset
from classifiers.evaluate import evaluate_set
from classifiers.exceptions import ClassifierError
from classifiers.phobert.model import PhobertClassifier
from classifiers.phobert.train import PhobertTrainingOptions, train_phobert
from schemas import Classification, EvidenceKind, Label, PostKind, SkipReason
from tests.conftest import CLEAN, HATE, ODD_TEXTS, OFFENSIVE, tiny_corpus_words

ID = "0" * 32


@pytest.fixture(scope="module")
def tiny_phobert(tiny_phobert_dir: Path) -> PhobertClassifier:
    return PhobertClassifier.load(tiny_phobert_dir, backend="torch")


def one(model: PhobertClassifier, text: str, **kw: Any) -> Classification:
    kw.setdefault("language", "vi")
    return model.predict([ClassifierInput(ID, text, **kw)])[0]


def test_card_records_calibration_thresholds_data_and_dev_metrics(tiny_phobert_dir: Path) -> None:
    card = json.loads((tiny_phobert_dir / "phobert.json").read_text(encoding="utf-8"))
    assert set(card["heads"]) == {"hostile", "toxic", "misinformation", "clickbait", "spam"}
    assert card["options"]["max_steps"] == 300
    assert all(len(entry["sha256"]) == 64 for entry in card["data"].values())
    for head in card["heads"].values():
        assert 0.05 <= head["temperature"] <= 20
        assert head["thresholds"]
        assert head["dev_at_threshold"]
        # The tiny datasets are separable: 300 steps must learn them, every head.
        assert head["dev"]["macro_f1"] >= 0.9, head["dev"]


def test_fine_tuning_beats_the_random_network_on_dev(
    tiny_phobert: PhobertClassifier, tiny_phobert_base: Path, tiny_data: Path
) -> None:
    dev = read_dataset("vihsd", tiny_data / "vihsd/dev.csv")
    random_net = PhobertClassifier.load(tiny_phobert_base, backend="torch")
    trained = evaluate_set(tiny_phobert, dev)["macro_f1"]
    untrained = evaluate_set(random_net, dev)["macro_f1"]
    assert trained >= 0.9 > untrained + 0.3


def test_it_flags_what_it_learned_with_span_evidence(tiny_phobert: PhobertClassifier) -> None:
    hate = one(tiny_phobert, HATE[0], kind=PostKind.COMMENT)
    clean = one(tiny_phobert, CLEAN[1], kind=PostKind.COMMENT)
    assert Label.HATE in hate.labels
    assert Label.HATE not in clean.labels
    assert hate.scores[Label.HATE] > clean.scores[Label.HATE]
    assert hate.model == "canhbao-phobert"
    assert hate.model_version.endswith("+torch")
    assert any(e.kind is EvidenceKind.SPAN for e in hate.evidence)


def test_max_pooling_finds_an_insult_deep_in_a_long_article(
    tiny_phobert: PhobertClassifier,
) -> None:
    # Short windows, so that one of them is mostly the insult (a 2-layer network trained on
    # one-line comments reads a 254-token window as the clean text around it).
    m = tiny_phobert
    short = PhobertClassifier(
        {**m.card, "max_length": 12, "overlap": 3, "max_windows": 64},
        m.tokenizer,
        m.segmenter,
        m.backend,
    )
    filler = " ".join([CLEAN[0]] * 6)
    article = f"{filler} {OFFENSIVE[2]} {filler}"
    assert len(short.windows([article])) > 4
    flagged = one(short, article, kind=PostKind.ARTICLE)
    plain = one(short, f"{filler} {filler}", kind=PostKind.ARTICLE)
    assert Label.OFFENSIVE in flagged.labels
    assert Label.OFFENSIVE not in plain.labels
    assert flagged.scores[Label.OFFENSIVE] > plain.scores[Label.OFFENSIVE] + 0.3
    # The whole 1 MB text is read no further than max_windows, and still answered.
    huge = one(m, "đm " * 350_000)
    assert huge.scores


def test_a_post_scores_the_same_alone_and_in_a_mixed_batch(
    tiny_phobert: PhobertClassifier,
) -> None:
    texts = [HATE[1], " ".join([CLEAN[2]] * 60), OFFENSIVE[0], CLEAN[3], "ok " + HATE[4]]
    batch = tiny_phobert.predict([ClassifierInput(ID, t, language="vi") for t in texts])
    for text, batched in zip(texts, batch, strict=True):
        alone = one(tiny_phobert, text)
        for label, score in alone.scores.items():
            assert batched.scores[label] == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize("backend", ["int8", "onnx", "onnx-int8"])
def test_every_backend_agrees_with_torch(
    tiny_phobert_dir: Path, tiny_phobert: PhobertClassifier, backend: str
) -> None:
    other = PhobertClassifier.load(tiny_phobert_dir, backend=backend)
    texts = [*HATE, *OFFENSIVE, *CLEAN]
    inputs = [ClassifierInput(ID, t, language="vi") for t in texts]
    reference = np.array(
        [[c.scores[lab] for lab in Label if lab in c.scores] for c in tiny_phobert.predict(inputs)]
    )
    scores = np.array(
        [[c.scores[lab] for lab in Label if lab in c.scores] for c in other.predict(inputs)]
    )
    tolerance = 1e-4 if backend == "onnx" else 0.05  # int8 rounds the weights
    assert np.abs(reference - scores).max() <= tolerance
    assert other.version.endswith(f"+{backend}")


@pytest.mark.parametrize(("text", "outcome"), ODD_TEXTS)
def test_predict_has_a_defined_outcome_for_any_text(
    tiny_phobert: PhobertClassifier, text: str, outcome: SkipReason | None
) -> None:
    result = one(tiny_phobert, text, language=None)
    assert result.skipped is outcome
    if outcome is None:
        assert set(result.scores) >= {Label.HATE, Label.OFFENSIVE, Label.TOXIC}
    else:
        assert result.scores == {}
        assert result.labels == []


def test_heads_run_only_inside_their_domain(tiny_phobert: PhobertClassifier) -> None:
    comment = one(tiny_phobert, "inbox nhận ngay mã giảm giá", kind=PostKind.COMMENT)
    review = one(tiny_phobert, "inbox nhận ngay mã giảm giá", kind=PostKind.REVIEW)
    assert Label.SPAM not in comment.scores
    assert Label.SPAM in review.scores
    titled = one(
        tiny_phobert, "đoạn mở đầu", title="sốc cô gái làm điều này", kind=PostKind.ARTICLE
    )
    assert Label.CLICKBAIT in titled.scores


def test_training_from_a_hugging_face_folder(tiny_data: Path, tmp_path: Path) -> None:
    """`--base` as Hugging Face lays a model out (tokenizer and weights at the root), as a
    download of vinai/phobert-base would be: `from_pretrained` on a local folder."""
    from transformers import PhobertTokenizer, RobertaConfig, RobertaModel

    from classifiers.phobert.scaffold import write_tokenizer

    base = tmp_path / "hf-phobert"
    write_tokenizer(base, tiny_corpus_words(tiny_data))
    tokenizer = PhobertTokenizer(str(base / "vocab.txt"), str(base / "bpe.codes"))  # type: ignore[no-untyped-call]
    tokenizer.save_pretrained(str(base))
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=258, type_vocab_size=1, pad_token_id=1,
    )  # fmt: skip
    RobertaModel(config).save_pretrained(str(base))  # type: ignore[no-untyped-call]
    options = PhobertTrainingOptions(base=str(base), max_steps=5, spans=False)
    model = train_phobert(tiny_data, tmp_path / "out", options, progress=lambda _: None)
    assert model.card["base"] == str(base)
    again = PhobertClassifier.load(tmp_path / "out")
    assert one(again, HATE[0]).scores


def test_missing_models_and_backends_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_phobert_base: Path
) -> None:
    with pytest.raises(ModelNotFoundError, match="canhbao train phobert"):
        PhobertClassifier.load(tmp_path / "nowhere")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError, match="not obtainable from the hub"):
        PhobertClassifier.load("vinai/phobert-base-does-not-exist")
    with pytest.raises(ClassifierError, match="canhbao phobert export"):
        PhobertClassifier.load(tiny_phobert_base, backend="onnx")
    with pytest.raises(ClassifierError, match="unknown PhoBERT backend"):
        PhobertClassifier.load(tiny_phobert_base, backend="tpu")
