"""What every trainer writes about a head once it has dev probabilities: the metrics, the alert
thresholds for the target precision, and the benchmark decision rule (macro-F1 offsets) with an
honest, cross-fitted dev score. One function, so the baseline and PhoBERT cards compare."""

from __future__ import annotations

from typing import Any

import numpy as np

from classifiers.heads import HeadSpec
from classifiers.metrics import (
    choose_threshold,
    classification_report,
    crossfit_decisions,
    expected_precision,
    fit_decision_offsets,
)
from schemas import Label

__all__ = ["dev_evaluation"]


def dev_evaluation(
    spec: HeadSpec, y_dev: np.ndarray, proba: np.ndarray, target_precision: float, seed: int
) -> tuple[dict[Label, float], dict[str, Any]]:
    """(alert thresholds, card fields) from a head's dev probabilities."""
    y_dev = np.asarray(y_dev, dtype=np.int64)
    thresholds: dict[Label, float] = {}
    at_threshold = {}
    for label, class_index in spec.labels.items():
        truth = (y_dev == class_index).astype(np.int64)
        score = proba[:, class_index]
        threshold, numbers = choose_threshold(truth, score, target_precision)
        thresholds[label] = threshold  # unrounded: a rounded cut can flip decisions
        numbers["expected"] = expected_precision(truth, score, target_precision, seed)
        at_threshold[label.value] = numbers
    offsets, _ = fit_decision_offsets(proba, y_dev)
    crossfit = crossfit_decisions(proba, y_dev, seed)
    fields = {
        "thresholds": {label.value: t for label, t in thresholds.items()},
        "dev_at_threshold": at_threshold,
        "decision_offsets": [round(float(o), 4) for o in offsets],
        # argmax of the calibrated probabilities, and the tuned decision rule scored on dev
        # rows that did not tune it (two-fold cross-fitting on dev)
        "dev": classification_report(y_dev, proba.argmax(axis=1), proba, spec.classes),
        "dev_decision": classification_report(y_dev, crossfit, proba, spec.classes),
    }
    return thresholds, fields
