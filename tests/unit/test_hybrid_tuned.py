"""The hybrid's fine-tuned top layers (`canhbao train encoder`): they read the inner states of
the embed stage's own encoder pass, compute what the whole fine-tuned network computes, are
tried on every head in training, survive save and load, and cost no second encoder pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="fine-tuning needs the `transformer` extra")

import torch

from classifiers import ClassifierInput
from classifiers.embedding import PostEmbedding, post_passage
from classifiers.encoder.runtime import SentenceEncoder
from classifiers.hybrid import HybridModel, HybridOptions, train_hybrid
from classifiers.hybrid.tuned import TunedTop
from classifiers.transformer.batching import pad
from classifiers.transformer.model import card_pooling, card_specs
from classifiers.transformer.network import MultiHeadEncoder
from schemas import PostKind
from tests.conftest import CLEAN, HATE, ODD_TEXTS, OFFENSIVE
from tests.unit.test_hybrid import mixing

TEXTS = [HATE[0], CLEAN[1], OFFENSIVE[2], "giá cả hợp lý giao hàng nhanh"]


@pytest.fixture(scope="module")
def tuned_hybrid_dir(
    tiny_data: Path,
    tiny_model_dir: Path,
    tiny_e5_base: Path,
    tiny_e5_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("hybrid-tuned")
    options = HybridOptions(max_tokens=24, tuned_dir=tiny_e5_dir)
    train_hybrid(tiny_data, tiny_model_dir, tiny_e5_base, out, options, progress=lambda _: None)
    return out


def test_the_top_on_the_encoders_tap_gives_the_fine_tuned_networks_logits(
    tiny_e5_base: Path, tiny_e5_dir: Path
) -> None:
    """The built encoder's ONNX graph, stopped after the frozen layers, then the exported top:
    the same logits as the fine-tuned network run whole in torch on the same tokens."""
    top = TunedTop.load(tiny_e5_dir, graph="top.onnx")
    encoder = SentenceEncoder.load(tiny_e5_base, "onnx", max_tokens=24)
    passages = [post_passage(None, t) for t in TEXTS]
    _, states = encoder.embed_with_states(passages, top.start)
    card = json.loads((tiny_e5_dir / "transformer.json").read_text(encoding="utf-8"))
    network = MultiHeadEncoder.load(tiny_e5_dir, card_specs(card), card_pooling(card))
    ids, mask = pad(encoder.token_ids(passages), 1)
    with torch.inference_mode():
        whole = network(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert np.abs(top.logits(states) - whole).max() < 1e-3
    assert [len(s) for s in states] == [int(m.sum()) for m in mask]


def test_training_tries_the_tuned_layers_on_every_head(tuned_hybrid_dir: Path) -> None:
    card = json.loads((tuned_hybrid_dir / "hybrid.json").read_text(encoding="utf-8"))
    for head in card["heads"].values():
        assert head["learner"] in {"ngram", "hybrid", "hybrid+tuned"}
        selection = head["selection"]
        assert set(selection) >= {"ngram", "embedding", "hybrid", "tuned", "hybrid+tuned"}
        assert selection[head["learner"]] == max(
            selection[k] for k in ("ngram", "hybrid", "hybrid+tuned")
        )
    model = HybridModel.load(tuned_hybrid_dir)
    assert model.predict([ClassifierInput("0" * 32, TEXTS[0])])[0].scores


def test_a_tuned_mix_survives_save_and_load_and_reads_the_embed_stages_states(
    tuned_hybrid_dir: Path, tiny_e5_dir: Path, tmp_path: Path
) -> None:
    model = mixing(HybridModel.load(tuned_hybrid_dir), tuned=TunedTop.load(tiny_e5_dir))
    assert model.encoder.tap_layer == 1  # the embed stage's pass keeps layer 1's states
    out = tmp_path / "hybrid"
    shutil.copytree(tuned_hybrid_dir, out)
    model.card.update(
        baseline=str((tuned_hybrid_dir / model.card["baseline"]).resolve()),
        encoder=str((tuned_hybrid_dir / model.card["encoder"]).resolve()),
        tuned=str(tiny_e5_dir.resolve()),
        tuned_version=TunedTop.load(tiny_e5_dir).version,
    )
    model.save(out)
    again = HybridModel.load(out)
    assert again.tuned is not None
    plain = [ClassifierInput(f"{i:032x}", t, kind=PostKind.REVIEW) for i, t in enumerate(TEXTS)]
    expected = [r.scores for r in model.predict(plain)]
    assert [r.scores for r in again.predict(plain)] == expected
    # as the pipeline gives them: the embed stage's embeddings, states included, and no
    # second pass through the encoder
    embedded = again.encoder.embed_posts([post_passage(i.title, i.text) for i in plain])
    assert all(e.states is not None for e in embedded)
    given = [
        ClassifierInput(i.post_id, i.text, kind=i.kind, embedding=e)
        for i, e in zip(plain, embedded, strict=True)
    ]
    calls: list[int] = []
    real = again.encoder._run

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)

    again.encoder._run = counting
    scores = [r.scores for r in again.predict(given)]
    assert calls == []
    for got, want in zip(scores, expected, strict=True):
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-5 for k in got)
    # the tuned input matters: the same vectors with another post's states, other scores
    others = [*embedded[1:], embedded[0]]
    shuffled = [
        ClassifierInput(
            i.post_id, i.text, kind=i.kind, embedding=PostEmbedding(e.model, e.vector, o.states)
        )
        for i, e, o in zip(plain, embedded, others, strict=True)
    ]
    assert [r.scores for r in again.predict(shuffled)] != expected


def test_tuned_layers_of_another_encoder_are_not_mixed(
    tiny_data: Path, tiny_model_dir: Path, tiny_encoder_dir: Path, tiny_e5_dir: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    options = HybridOptions(max_tokens=12, tuned_dir=tiny_e5_dir)
    train_hybrid(
        tiny_data, tiny_model_dir, tiny_encoder_dir, tmp_path, options, progress=lines.append
    )
    assert any(line.startswith(f"not mixing {tiny_e5_dir}: tuned on") for line in lines)
    card = json.loads((tmp_path / "hybrid.json").read_text(encoding="utf-8"))
    assert "tuned" not in card
    assert all("tuned" not in head["selection"] for head in card["heads"].values())


def test_odd_inputs_get_defined_outcomes_through_the_tuned_layers(
    tuned_hybrid_dir: Path, tiny_e5_dir: Path
) -> None:
    model = mixing(HybridModel.load(tuned_hybrid_dir), tuned=TunedTop.load(tiny_e5_dir))
    batch = [ClassifierInput(f"{i:032x}", text) for i, (text, _) in enumerate(ODD_TEXTS)]
    for (_, expected), result in zip(ODD_TEXTS, model.predict(batch), strict=True):
        assert result.skipped == expected
        assert all(0.0 <= s <= 1.0 for s in result.scores.values())
