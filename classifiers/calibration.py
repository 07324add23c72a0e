"""Temperature scaling: one scalar per head, fitted on dev, that makes a network's softmax
probabilities mean what they say (fine-tuned transformers are over-confident). It changes no
ranking, so ROC-AUC and the argmax are untouched; thresholds are chosen after it."""

from __future__ import annotations

import numpy as np

__all__ = ["class_probabilities", "fit_temperature", "softmax"]


def class_probabilities(logits: np.ndarray) -> np.ndarray:
    """[rows, classes] probabilities of a linear head's logits: one column is a binary head's
    positive-class logit (sigmoid), k columns a k-class head's (softmax, in their dtype)."""
    if logits.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return result


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)[np.arange(len(y)), y]
    return float(-np.log(np.clip(p, 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.05, 20] with the least negative log-likelihood on (logits, y):
    a log-spaced grid, then a finer grid around the best point (deterministic, no optimiser)."""
    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        return 1.0
    lo, hi = np.log(0.05), np.log(20.0)
    grid = np.exp(np.linspace(lo, hi, 121))
    best = min(grid, key=lambda t: _nll(logits, y, float(t)))
    fine = np.exp(np.linspace(max(lo, np.log(best) - 0.06), min(hi, np.log(best) + 0.06), 41))
    return float(min(fine, key=lambda t: _nll(logits, y, float(t))))
