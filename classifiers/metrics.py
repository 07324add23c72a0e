"""Evaluation metrics, as reported by `canhbao eval` and written to model cards."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.metrics import roc_auc_score as _roc_auc

__all__ = [
    "choose_threshold",
    "classification_report",
    "crossfit_decisions",
    "decide",
    "expected_calibration_error",
    "expected_precision",
    "fit_decision_offsets",
    "two_halves",
    "wilson_interval",
]


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """ECE of the predicted class's probability, equal-width bins."""
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def classification_report(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
) -> dict[str, Any]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    report: dict[str, Any] = {
        "n": len(y_true),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro")), 4),
        "per_class": {
            name: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "ece": round(expected_calibration_error(y_true, proba), 4),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if len(classes) == 2:
        report["roc_auc"] = (
            round(float(_roc_auc(y_true, proba[:, 1])), 4) if len(set(y_true)) == 2 else None
        )
    return report


def _wilson(hits: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return (centre - spread) / denominator, (centre + spread) / denominator


def wilson_interval(hits: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion `hits / n` at normal quantile `z`."""
    if n == 0:
        return 0.0, 1.0
    low, high = _wilson(np.array(hits, dtype=np.float64), np.array(n, dtype=np.float64), z)
    return float(low), float(high)


def _z(confidence: float) -> float:
    return float(norm.ppf(confidence))


def choose_threshold(
    y_true: np.ndarray, score: np.ndarray, target_precision: float, confidence: float = 0.95
) -> tuple[float, dict[str, Any]]:
    """The lowest threshold whose precision is at least `target_precision` with `confidence`
    (one-sided Wilson lower bound), i.e. the most recall at a precision that should hold on
    data that did not choose it; if none qualifies, the threshold with the best F1. The plain
    dev precision at the lowest qualifying cut overstates what unseen data gets: among many
    candidate cuts the one chosen is the luckiest. Returns it with its dev numbers."""
    order = np.argsort(-score)
    sorted_scores = score[order]
    hits = np.cumsum(y_true[order] == 1)
    flagged = np.arange(1, len(score) + 1)
    positives = max(int((y_true == 1).sum()), 1)
    precision = hits / flagged
    recall = hits / positives
    f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall + 1e-12), 0)
    lower, _ = _wilson(hits.astype(np.float64), flagged.astype(np.float64), _z(confidence))
    # Only cut between distinct scores, so ties are all in or all out.
    distinct = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    ok = np.flatnonzero(distinct & (lower >= target_precision) & (hits >= 5))
    k = int(ok[-1]) if ok.size else int(np.flatnonzero(distinct)[np.argmax(f1[distinct])])
    threshold = float(sorted_scores[k])
    return threshold, {
        "threshold": round(threshold, 6),
        "precision": round(float(precision[k]), 4),
        "precision_lower_bound": round(float(lower[k]), 4),
        "confidence": confidence,
        "recall": round(float(recall[k]), 4),
        "f1": round(float(f1[k]), 4),
        "flagged": int(flagged[k]),
        "met_target_precision": bool(ok.size),
    }


def expected_precision(
    y_true: np.ndarray,
    score: np.ndarray,
    target_precision: float,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """What the threshold rule delivers on rows that did not choose its threshold: two-fold
    cross-fitting on dev (choose on one half, count on the other, both ways), pooled, with a
    95% Wilson interval. This is the precision an analyst should expect, not the dev one."""
    y_true = np.asarray(y_true, dtype=np.int64)
    hits = flagged = 0
    for choose, count in two_halves(len(y_true), seed):
        threshold, _ = choose_threshold(y_true[choose], score[choose], target_precision, confidence)
        chosen = score[count] >= threshold
        flagged += int(chosen.sum())
        hits += int((y_true[count][chosen] == 1).sum())
    low, high = wilson_interval(hits, flagged, _z(0.975))
    return {
        "precision": round(hits / flagged, 4) if flagged else None,
        "interval_95": [round(low, 4), round(high, 4)],
        "flagged": flagged,
        "method": "two-fold cross-fitting on dev",
    }


def two_halves(n: int, seed: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """A seeded random split of `n` rows into two halves, as (fit, score) both ways round:
    the two-fold cross-fitting every dev-set estimate here uses."""
    order = np.random.default_rng(seed).permutation(n)
    first, second = order[: n // 2], order[n // 2 :]
    return (first, second), (second, first)


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    """Macro-F1 from one bincount: fast enough to sit inside a search loop."""
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
    return float(f1.mean())


def decide(proba: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """The class decision: argmax of log-probabilities shifted by per-class offsets."""
    if offsets is None:
        result: np.ndarray = proba.argmax(axis=1)
        return result
    shifted: np.ndarray = (np.log(np.clip(proba, 1e-12, None)) + offsets).argmax(axis=1)
    return shifted


def fit_decision_offsets(
    proba: np.ndarray, y_true: np.ndarray, rounds: int = 3
) -> tuple[np.ndarray, float]:
    """Per-class offsets (class 0 fixed at 0) to the log-probabilities whose argmax has the
    best macro-F1 on (proba, y): coordinate ascent over a grid. Calibrated probabilities put
    rare classes' argmax too rarely; this is the benchmark decision rule, the probabilities
    and the precision-targeted alert thresholds stay as they are."""
    k = proba.shape[1]
    y_true = np.asarray(y_true, dtype=np.int64)
    logp = np.log(np.clip(proba, 1e-12, None))
    offsets = np.zeros(k)
    best = _macro_f1(y_true, logp.argmax(axis=1), k)
    grid = np.linspace(-2.0, 4.0, 61)
    for _ in range(rounds):
        improved = False
        for cls in range(1, k):
            for value in grid:
                trial = offsets.copy()
                trial[cls] = value
                score = _macro_f1(y_true, (logp + trial).argmax(axis=1), k)
                if score > best + 1e-12:
                    best, offsets, improved = score, trial, True
        if not improved:
            break
    return offsets, best


def crossfit_decisions(proba: np.ndarray, y_true: np.ndarray, seed: int = 0) -> np.ndarray:
    """Decisions for every dev row from offsets fitted on the *other* half of dev (both ways),
    so that the reported dev score of the decision rule is not scored on its own tuning rows."""
    y_true = np.asarray(y_true, dtype=np.int64)
    decisions = np.zeros(len(y_true), dtype=np.int64)
    for tune, score in two_halves(len(y_true), seed):
        offsets, _ = fit_decision_offsets(proba[tune], y_true[tune])
        decisions[score] = decide(proba[score], offsets)
    return decisions
