"""The benchmark decision rule: macro-F1 offsets on calibrated probabilities, fitted on dev and
scored honestly (cross-fitted), and how `canhbao eval` uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from classifiers.baseline import BaselineModel
from classifiers.evaluate import evaluate
from classifiers.metrics import crossfit_decisions, decide, fit_decision_offsets


def imbalanced(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated-looking probabilities for a 3-class task with two rare classes."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.8, 0.12, 0.08])
    logits = rng.normal(0, 1, size=(n, 3)) + np.eye(3)[y] * 1.5 + np.log([0.8, 0.12, 0.08])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, y


def test_offsets_raise_macro_f1_over_argmax_on_fresh_data() -> None:
    proba, y = imbalanced(4000, 1)
    offsets, tuned = fit_decision_offsets(proba, y)
    assert offsets[0] == 0.0
    assert offsets[1] > 0
    assert offsets[2] > 0  # rare classes are decided more often than argmax does
    assert tuned > f1_score(y, proba.argmax(axis=1), average="macro")
    fresh_p, fresh_y = imbalanced(4000, 2)  # the gain holds on rows it was not fitted on
    assert f1_score(fresh_y, decide(fresh_p, offsets), average="macro") > f1_score(
        fresh_y, fresh_p.argmax(axis=1), average="macro"
    )


def test_decide_without_offsets_is_argmax() -> None:
    proba, _ = imbalanced(100, 3)
    assert (decide(proba, None) == proba.argmax(axis=1)).all()


def test_crossfitting_does_not_score_the_rule_on_its_own_tuning_rows() -> None:
    # Probabilities that carry no information: tuning in-sample finds a lucky rule, the
    # cross-fitted score must stay at chance.
    rng = np.random.default_rng(4)
    y = rng.choice(2, size=600, p=[0.7, 0.3])
    proba = rng.dirichlet([1, 1], size=600)
    _, in_sample = fit_decision_offsets(proba, y)
    honest = f1_score(y, crossfit_decisions(proba, y), average="macro")
    assert honest < in_sample - 0.02


def test_eval_decides_with_the_models_offsets(tiny_model: BaselineModel, tiny_data: Path) -> None:
    report = evaluate(tiny_model, "vihsd", tiny_data / "vihsd/dev.csv")
    assert report["decision"] == "dev_offsets"
    assert 0 <= report["argmax_macro_f1"] <= 1
    card = tiny_model.card["heads"]["hostile"]
    assert len(card["decision_offsets"]) == 3
    assert card["dev_decision"]["n"] == card["dev"]["n"]
    vihos = evaluate(tiny_model, "vihos", tiny_data / "vihos/dev.csv")
    assert vihos["decision"] == "argmax"  # scored as hostile-or-not: no 2-class offsets


def test_nb_ratios_point_towards_the_class_a_feature_occurs_in() -> None:
    import scipy.sparse as sp

    from classifiers.baseline.train import _nb_ratios

    x = sp.csr_matrix(np.array([[1, 0, 1], [2, 0, 1], [0, 3, 1], [0, 1, 1]], dtype=np.float32))
    y = np.array([1, 1, 0, 0])
    ratios = _nb_ratios(x, y)
    assert ratios[0] > 0 > ratios[1]
    assert abs(ratios[2]) < 1e-6  # in every row: no evidence either way
