"""The transformer path on both tokenizer families, with tiny models the tests build: PhoBERT
(own vocab.txt and bpe.codes over pyvi-segmented words, a 2-layer RoBERTa, `<s>` pooling, all
layers trained) and multilingual-e5 (SentencePiece over syllables, a 2-layer BERT converted by
the encoder build, mean pooling, "passage: ", the top layer trained on cached states):
loading, fine-tuning, checkpoints, every backend, windows, odd inputs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason="the transformer path needs the `transformer` extra")

import torch

from classifiers import ClassifierInput, ModelNotFoundError
from classifiers.datasets import read_dataset
from classifiers.evaluate import evaluate_set
from classifiers.exceptions import ClassifierError
from classifiers.transformer.model import TransformerClassifier, card_pooling, card_specs
from classifiers.transformer.network import MultiHeadEncoder
from classifiers.transformer.train import (
    CHECKPOINT_FILE,
    TransformerTrainingOptions,
    e5_options,
    train_transformer,
)
from schemas import Classification, EvidenceKind, Label, PostKind, SkipReason
from tests.conftest import CLEAN, HATE, ODD_TEXTS, OFFENSIVE, tiny_corpus_words

ID = "0" * 32


@pytest.fixture(scope="module", params=["phobert", "e5"])
def tuned_dir(request: pytest.FixtureRequest) -> Path:
    """Each family's tiny model, fine-tuned on the tiny datasets and exported."""
    directory: Path = request.getfixturevalue(f"tiny_{request.param}_dir")
    return directory


@pytest.fixture(scope="module")
def tuned(tuned_dir: Path) -> TransformerClassifier:
    return TransformerClassifier.load(tuned_dir, backend="torch")


@pytest.fixture(scope="module")
def tiny_phobert(tiny_phobert_dir: Path) -> TransformerClassifier:
    return TransformerClassifier.load(tiny_phobert_dir, backend="torch")


def one(model: TransformerClassifier, text: str, **kw: Any) -> Classification:
    kw.setdefault("language", "vi")
    return model.predict([ClassifierInput(ID, text, **kw)])[0]


def test_card_records_calibration_thresholds_data_and_dev_metrics(tuned_dir: Path) -> None:
    card = json.loads((tuned_dir / "transformer.json").read_text(encoding="utf-8"))
    assert set(card["heads"]) == {"hostile", "toxic", "misinformation", "clickbait", "spam"}
    assert card["options"]["max_steps"] == 300
    assert not (tuned_dir / CHECKPOINT_FILE).exists()  # a finished run leaves none behind
    assert all(len(entry["sha256"]) == 64 for entry in card["data"].values())
    for head in card["heads"].values():
        assert 0.05 <= head["temperature"] <= 20
        assert head["thresholds"]
        assert head["dev_at_threshold"]
        # The tiny datasets are separable: 300 steps must learn them, every head.
        assert head["dev"]["macro_f1"] >= 0.9, head["dev"]


def test_fine_tuning_beats_the_random_network_on_dev(
    tiny_phobert: TransformerClassifier, tiny_phobert_base: Path, tiny_data: Path
) -> None:
    dev = read_dataset("vihsd", tiny_data / "vihsd/dev.csv")
    random_net = TransformerClassifier.load(tiny_phobert_base, backend="torch")
    trained = evaluate_set(tiny_phobert, dev)["macro_f1"]
    untrained = evaluate_set(random_net, dev)["macro_f1"]
    assert trained >= 0.9 > untrained + 0.3


def test_each_family_keeps_its_own_reading_of_the_text(
    tiny_phobert_dir: Path, tiny_e5_dir: Path
) -> None:
    phobert, e5 = (
        json.loads((d / "transformer.json").read_text(encoding="utf-8"))
        for d in (tiny_phobert_dir, tiny_e5_dir)
    )
    assert (phobert["segmenter"], phobert["pooling"], phobert["prefix"]) == ("pyvi", "cls", "")
    assert phobert["frozen_layers"] == 0
    assert (e5["segmenter"], e5["pooling"], e5["prefix"]) == ("whitespace", "mean", "passage: ")
    assert e5["frozen_layers"] == 1
    model = TransformerClassifier.load(tiny_e5_dir)
    tok = model.tokenizer
    (row,) = model.model_rows([model.encode(["trời đẹp"])[0]])
    assert tok.convert_ids_to_tokens(row) == ["<s>", "▁passage", ":", "▁trời", "▁đẹp", "</s>"]
    assert len(model.model_rows([[5] * model.window_body])[0]) == e5["max_length"]


@pytest.mark.parametrize("family", ["phobert", "e5"])
def test_the_cached_lower_layers_and_the_top_give_the_whole_networks_logits(
    request: pytest.FixtureRequest, family: str
) -> None:
    """What frozen-layer training learns on is exactly what the whole network computes."""
    directory: Path = request.getfixturevalue(f"tiny_{family}_dir")
    model = TransformerClassifier.load(directory)
    card = model.card
    network = MultiHeadEncoder.load(directory, card_specs(card), card_pooling(card))
    from classifiers.transformer.batching import pad

    rows = model.model_rows([ids[:20] for ids in model.encode([*HATE[:3], CLEAN[0], "ok"])])
    ids, mask = (torch.from_numpy(a) for a in pad(rows, model.tokenizer.pad_token_id))
    with torch.inference_mode():
        whole = network(ids, mask)
        for start in range(len(network.layers) + 1):
            states = network.lower_states(ids, mask, start)
            assert torch.allclose(network.forward_top(states, mask, start), whole, atol=1e-5)


def test_an_interrupted_training_resumes_where_its_checkpoint_left_it(
    tiny_data: Path, tiny_e5_base: Path, tmp_path: Path
) -> None:
    options = e5_options(
        str(tiny_e5_base), max_steps=20, checkpoint_every=10, trainable_layers=1,
        max_length=32, overlap=8, max_train_rows=60, spans=False, batch_size=8,
    )  # fmt: skip

    def stop_at_15(line: str) -> None:
        if line.startswith("step 15/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_transformer(tiny_data, tmp_path / "resumed", options, progress=stop_at_15)
    assert (tmp_path / "resumed" / CHECKPOINT_FILE).is_file()
    lines: list[str] = []
    resumed = train_transformer(tiny_data, tmp_path / "resumed", options, progress=lines.append)
    assert any(line.startswith("resuming from step 10") for line in lines)
    assert not any(line.startswith("step 5/") for line in lines)
    whole = train_transformer(tiny_data, tmp_path / "whole", options, progress=lambda _: None)
    assert resumed.card["version"] == whole.card["version"]
    a = MultiHeadEncoder.load(tmp_path / "resumed", card_specs(resumed.card), "mean")
    b = MultiHeadEncoder.load(tmp_path / "whole", card_specs(whole.card), "mean")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name
    # other options are another run: the checkpoint of this one is not theirs to resume
    other = replace(options, learning_rate=1e-4)
    with pytest.raises(KeyboardInterrupt):
        train_transformer(tiny_data, tmp_path / "resumed", options, progress=stop_at_15)
    lines.clear()
    train_transformer(tiny_data, tmp_path / "resumed", other, progress=lines.append)
    assert not any(line.startswith("resuming") for line in lines)


def test_it_flags_what_it_learned_with_span_evidence(tuned: TransformerClassifier) -> None:
    hate = one(tuned, HATE[0], kind=PostKind.COMMENT)
    clean = one(tuned, CLEAN[1], kind=PostKind.COMMENT)
    assert Label.HATE in hate.labels
    assert Label.HATE not in clean.labels
    assert hate.scores[Label.HATE] > clean.scores[Label.HATE]
    assert hate.model == "canhbao-transformer"
    assert hate.model_version.endswith("+torch")
    assert any(e.kind is EvidenceKind.SPAN for e in hate.evidence)


def test_max_pooling_finds_an_insult_deep_in_a_long_article(
    tiny_phobert: TransformerClassifier,
) -> None:
    # Short windows, so that one of them is mostly the insult (a 2-layer network trained on
    # one-line comments reads a 254-token window as the clean text around it). PhoBERT only:
    # windows and pooling are one code path for both families, and the toy e5 (a frozen random
    # layer under mean pooling) reads 8-token windows of clean filler erratically.
    m = tiny_phobert
    short = TransformerClassifier(
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
    tuned: TransformerClassifier,
) -> None:
    texts = [HATE[1], " ".join([CLEAN[2]] * 60), OFFENSIVE[0], CLEAN[3], "ok " + HATE[4]]
    batch = tuned.predict([ClassifierInput(ID, t, language="vi") for t in texts])
    for text, batched in zip(texts, batch, strict=True):
        alone = one(tuned, text)
        for label, score in alone.scores.items():
            assert batched.scores[label] == pytest.approx(score, abs=1e-4)


def model_rows_of(model: TransformerClassifier, texts: list[str]) -> tuple[np.ndarray, ...]:
    from classifiers.transformer.batching import pad

    windows = [w for _, w in model.windows(texts, multi_window=False)]
    return pad(model.model_rows(windows), model.tokenizer.pad_token_id)


@pytest.mark.parametrize("backend", ["int8", "onnx", "onnx-int8"])
def test_every_backend_agrees_with_torch(
    tuned_dir: Path, tuned: TransformerClassifier, backend: str
) -> None:
    other = TransformerClassifier.load(tuned_dir, backend=backend)
    texts = [*HATE, *OFFENSIVE, *CLEAN]
    inputs = [ClassifierInput(ID, t, language="vi") for t in texts]
    reference = np.array(
        [[c.scores[lab] for lab in Label if lab in c.scores] for c in tuned.predict(inputs)]
    )
    scores = np.array(
        [[c.scores[lab] for lab in Label if lab in c.scores] for c in other.predict(inputs)]
    )
    if backend == "onnx":
        assert np.abs(reference - scores).max() <= 1e-4
    else:
        # int8 rounds the weights: compare the logits, relative to their spread (a toy model's
        # logits are so steep that a tiny move can flip a probability from 0 to 1). Rounding
        # costs a 32-wide toy more than a real encoder: PyTorch's int8 moved the tiny e5's
        # logits by up to 12% of their spread, ONNX Runtime's by under 5%.
        rows = model_rows_of(tuned, texts)
        ref, got = tuned.backend.logits(*rows), other.backend.logits(*rows)
        assert np.abs(ref - got).max() <= 0.15 * (ref.max() - ref.min())
    assert other.version.endswith(f"+{backend}")


@pytest.mark.parametrize(("text", "outcome"), ODD_TEXTS)
def test_predict_has_a_defined_outcome_for_any_text(
    tuned: TransformerClassifier, text: str, outcome: SkipReason | None
) -> None:
    result = one(tuned, text, language=None)
    assert result.skipped is outcome
    if outcome is None:
        assert set(result.scores) >= {Label.HATE, Label.OFFENSIVE, Label.TOXIC}
    else:
        assert result.scores == {}
        assert result.labels == []


def test_heads_run_only_inside_their_domain(tuned: TransformerClassifier) -> None:
    comment = one(tuned, "inbox nhận ngay mã giảm giá", kind=PostKind.COMMENT)
    review = one(tuned, "inbox nhận ngay mã giảm giá", kind=PostKind.REVIEW)
    assert Label.SPAM not in comment.scores
    assert Label.SPAM in review.scores
    titled = one(tuned, "đoạn mở đầu", title="sốc cô gái làm điều này", kind=PostKind.ARTICLE)
    assert Label.CLICKBAIT in titled.scores


def test_training_from_a_hugging_face_folder(tiny_data: Path, tmp_path: Path) -> None:
    """`--base` as Hugging Face lays a model out (tokenizer and weights at the root), as a
    download of vinai/phobert-base would be: `from_pretrained` on a local folder."""
    from transformers import PhobertTokenizer, RobertaConfig, RobertaModel

    from classifiers.transformer.scaffold import write_tokenizer

    base = tmp_path / "hf-phobert"
    write_tokenizer(base, tiny_corpus_words(tiny_data))
    tokenizer = PhobertTokenizer(str(base / "vocab.txt"), str(base / "bpe.codes"))  # type: ignore[no-untyped-call]
    tokenizer.save_pretrained(str(base))
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=258, type_vocab_size=1, pad_token_id=1,
    )  # fmt: skip
    RobertaModel(config).save_pretrained(str(base))  # type: ignore[no-untyped-call]
    options = TransformerTrainingOptions(base=str(base), max_steps=5, spans=False)
    model = train_transformer(tiny_data, tmp_path / "out", options, progress=lambda _: None)
    assert model.card["base"] == str(base)
    again = TransformerClassifier.load(tmp_path / "out")
    assert one(again, HATE[0]).scores


def test_missing_models_and_backends_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_phobert_base: Path
) -> None:
    with pytest.raises(ModelNotFoundError, match="canhbao train phobert"):
        TransformerClassifier.load(tmp_path / "nowhere")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError, match="not obtainable from the hub"):
        TransformerClassifier.load("vinai/phobert-base-does-not-exist")
    with pytest.raises(ClassifierError, match="canhbao transformer export"):
        TransformerClassifier.load(tiny_phobert_base, backend="onnx")
    with pytest.raises(ClassifierError, match="unknown transformer backend"):
        TransformerClassifier.load(tiny_phobert_base, backend="tpu")
