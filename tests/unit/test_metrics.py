"""Evaluation metrics and threshold choice."""

from __future__ import annotations

import numpy as np

from classifiers.metrics import (
    choose_threshold,
    classification_report,
    expected_calibration_error,
)


def test_threshold_reaches_target_precision_with_most_recall() -> None:
    y = np.array([1] * 10 + [0] * 10 + [1] * 5 + [0] * 15)
    score = np.linspace(1.0, 0.0, len(y))
    threshold, numbers = choose_threshold(y, score, target_precision=0.7)
    flagged = score >= threshold
    precision = y[flagged].mean()
    assert precision >= 0.7
    assert numbers["met_target_precision"] is True
    # No lower cut keeps the target.
    lower = np.sort(score[score < threshold])[::-1]
    for t in lower[:5]:
        assert y[score >= t].mean() < 0.7 or (y[score >= t] == 1).sum() == (y[flagged] == 1).sum()


def test_threshold_falls_back_to_best_f1_when_target_unreachable() -> None:
    y = np.array([1, 0] * 20)
    score = np.linspace(1.0, 0.0, len(y))
    _, numbers = choose_threshold(y, score, target_precision=0.99)
    assert numbers["met_target_precision"] is False
    assert numbers["f1"] > 0


def test_ece_is_zero_for_perfect_confident_predictions() -> None:
    y = np.array([0, 1, 1, 0])
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert expected_calibration_error(y, proba) == 0.0


def test_report_has_contract_fields() -> None:
    y = np.array([0, 1, 1, 0, 1])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])
    report = classification_report(y, proba.argmax(axis=1), proba, ("neg", "pos"))
    assert set(report) >= {"n", "macro_f1", "per_class", "ece", "confusion", "roc_auc"}
    assert report["per_class"]["pos"]["support"] == 3
    assert report["confusion"] == [[2, 0], [1, 2]]
    assert report["roc_auc"] == 1.0
