"""The hybrid model: training on the tiny datasets with a tiny encoder, the mix itself,
persistence, and the embedding it reads from the pipeline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifiers import ClassifierInput
from classifiers.baseline import BaselineModel
from classifiers.embedding import PostEmbedding, post_passage
from classifiers.exceptions import ModelFormatError
from classifiers.heads import HEADS
from classifiers.hybrid import HybridHead, HybridModel, HybridOptions, train_hybrid
from classifiers.hybrid.model import LinearMap
from classifiers.hybrid.tuned import TunedTop
from schemas import PostKind
from tests.conftest import ODD_TEXTS

TEXTS = ["bọn này ngu vãi thật", "hôm nay trời đẹp quá", "sản phẩm tốt lắm nha shop"]


@pytest.fixture(scope="module")
def hybrid_dir(
    tiny_data: Path,
    tiny_model_dir: Path,
    tiny_encoder_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("hybrid")
    train_hybrid(tiny_data, tiny_model_dir, tiny_encoder_dir, out, HybridOptions(max_tokens=12),
                 progress=lambda _: None)  # fmt: skip
    return out


def mixing(model: HybridModel, seed: int = 0, tuned: TunedTop | None = None) -> HybridModel:
    """The model with every head mixing, through random linear maps: the n-gram and embedding
    heads, and the tuned top layers where given."""
    rng = np.random.default_rng(seed)
    inputs = 2 if tuned is None else 3
    heads = []
    for spec in HEADS:
        k = 1 if len(spec.classes) == 2 else len(spec.classes)
        features = inputs if k == 1 else inputs * k
        embed = LinearMap(rng.normal(size=(k, model.encoder.dim)).astype(np.float32),
                          rng.normal(size=k).astype(np.float32))  # fmt: skip
        mixer = LinearMap(rng.normal(size=(k, features)).astype(np.float32),
                          rng.normal(size=k).astype(np.float32))  # fmt: skip
        thresholds = model.heads[spec.name].thresholds
        heads.append(HybridHead(spec, thresholds, embed, mixer, tuned is not None))
    card = json.loads(json.dumps(model.card))
    for name in card["heads"]:
        card["heads"][name]["learner"] = "hybrid" if tuned is None else "hybrid+tuned"
    return HybridModel(model.ngram, model.encoder, heads, card, tuned)


def test_training_writes_a_card_that_says_per_head_what_won_on_dev(hybrid_dir: Path) -> None:
    card = json.loads((hybrid_dir / "hybrid.json").read_text(encoding="utf-8"))
    assert set(card["heads"]) == {spec.name for spec in HEADS}
    for head in card["heads"].values():
        assert head["learner"] in {"hybrid", "ngram"}
        selection = head["selection"]
        assert set(selection) >= {"metric", "ngram", "embedding", "hybrid"}
        if head["learner"] == "hybrid":
            assert selection["hybrid"] > selection["ngram"]
        for numbers in head["dev_at_threshold"].values():
            assert numbers["expected"]["method"] == "two-fold cross-fitting on dev"
    assert card["encoder_name"].endswith("/t12")
    model = HybridModel.load(hybrid_dir)
    results = model.predict([ClassifierInput(f"{i:032x}", t) for i, t in enumerate(TEXTS)])
    assert [r.post_id for r in results] == [f"{i:032x}" for i in range(3)]


def test_a_mixer_reads_both_models_log_odds(hybrid_dir: Path) -> None:
    model = HybridModel.load(hybrid_dir)
    spec = next(s for s in HEADS if s.name == "toxic")
    vectors = model.encoder.embed(TEXTS)
    ngram = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    embed = LinearMap(np.ones((1, model.encoder.dim), np.float32), np.zeros(1, np.float32))
    only_ngram = HybridHead(spec, {}, embed, LinearMap(np.array([[1.0, 0.0]]), np.zeros(1)))
    np.testing.assert_allclose(only_ngram.mix(ngram, vectors), ngram, atol=1e-6)
    only_embedding = HybridHead(spec, {}, embed, LinearMap(np.array([[0.0, 1.0]]), np.zeros(1)))
    np.testing.assert_allclose(only_embedding.mix(ngram, vectors), embed.proba(vectors), atol=1e-5)


def test_mixing_heads_survive_save_and_load(hybrid_dir: Path, tmp_path: Path) -> None:
    model = mixing(HybridModel.load(hybrid_dir))
    out = tmp_path / "hybrid"
    shutil.copytree(hybrid_dir, out)
    model.card["baseline"] = str((hybrid_dir / model.card["baseline"]).resolve())
    model.card["encoder"] = str((hybrid_dir / model.card["encoder"]).resolve())
    model.save(out)
    again = HybridModel.load(out)
    batch = [ClassifierInput(f"{i:032x}", t) for i, t in enumerate(TEXTS)]
    assert [r.scores for r in again.predict(batch)] == [r.scores for r in model.predict(batch)]


def test_the_pipelines_embedding_is_used_and_another_encoders_is_not(hybrid_dir: Path) -> None:
    model = mixing(HybridModel.load(hybrid_dir))
    plain = [ClassifierInput(f"{i:032x}", t, kind=PostKind.REVIEW) for i, t in enumerate(TEXTS)]
    vectors = model.encoder.embed([post_passage(i.title, i.text) for i in plain])
    given = [
        ClassifierInput(
            i.post_id, i.text, kind=i.kind, embedding=PostEmbedding(model.encoder.name, v)
        )
        for i, v in zip(plain, vectors, strict=True)
    ]
    assert [r.scores for r in model.predict(given)] == [r.scores for r in model.predict(plain)]
    # a vector the model would read differently changes scores; one of another encoder is ignored
    flipped = [
        ClassifierInput(i.post_id, i.text, kind=i.kind, embedding=PostEmbedding(e.model, -e.vector))
        for i, e in ((i, i.embedding) for i in given)
        if e is not None
    ]
    assert [r.scores for r in model.predict(flipped)] != [r.scores for r in model.predict(plain)]
    foreign = [
        ClassifierInput(i.post_id, i.text, kind=i.kind, embedding=PostEmbedding("other/t9", -v))
        for i, v in zip(plain, vectors, strict=True)
    ]
    assert [r.scores for r in model.predict(foreign)] == [r.scores for r in model.predict(plain)]


def test_odd_inputs_get_defined_outcomes_through_the_encoder_path(hybrid_dir: Path) -> None:
    model = mixing(HybridModel.load(hybrid_dir))
    batch = [ClassifierInput(f"{i:032x}", text) for i, (text, _) in enumerate(ODD_TEXTS)]
    results = model.predict(batch)
    for (_, expected), result in zip(ODD_TEXTS, results, strict=True):
        assert result.skipped == expected
        assert all(0.0 <= s <= 1.0 for s in result.scores.values())


def test_loading_refuses_a_baseline_it_was_not_trained_on(
    hybrid_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "hybrid"
    shutil.copytree(hybrid_dir, out)
    card = json.loads((out / "hybrid.json").read_text(encoding="utf-8"))
    card["baseline"] = str(tiny_model_dir.resolve())
    card["encoder"] = str((hybrid_dir / card["encoder"]).resolve())
    card["baseline_version"] = "19700101-0000000000"
    (out / "hybrid.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="retrain"):
        HybridModel.load(out)
    assert BaselineModel.load(tiny_model_dir).version != card["baseline_version"]


def test_a_foreign_encoder_budget_is_refused(hybrid_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "hybrid"
    shutil.copytree(hybrid_dir, out)
    card = json.loads((out / "hybrid.json").read_text(encoding="utf-8"))
    card["baseline"] = str((hybrid_dir / card["baseline"]).resolve())
    card["encoder"] = str((hybrid_dir / card["encoder"]).resolve())
    card["encoder_name"] = card["encoder_name"].replace("/t12", "/t64")
    (out / "hybrid.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="encoder"):
        HybridModel.load(out)
