"""Long inputs as overlapping windows, and window scores pooled back into one per post.

PhoBERT reads at most 256 positions. A comment fits in one window; an article is cut into
windows that overlap (so a sentence cut at a border is whole in one of them), each window is
scored, and the scores are pooled per post: `max` takes the window most towards the flagged
classes (an insult anywhere in an article is in the article), `mean` averages logits (whether
an article as a whole is unreliable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["Pooling", "pool", "split_windows"]

Pooling = Literal["max", "mean"]


def split_windows(ids: Sequence[int], body: int, overlap: int, max_windows: int) -> list[list[int]]:
    """`ids` cut into windows of at most `body` tokens, consecutive ones sharing `overlap`
    tokens; at most `max_windows` (the tail of a longer text is not read)."""
    if body < 1 or not 0 <= overlap < body or max_windows < 1:
        raise ValueError(f"bad window shape: body={body} overlap={overlap} max={max_windows}")
    if len(ids) <= body:
        return [list(ids)]
    step = body - overlap
    windows: list[list[int]] = []
    start = 0
    while len(windows) < max_windows:
        windows.append(list(ids[start : start + body]))
        if start + body >= len(ids):
            break
        start += step
    return windows


def _risk(logits: np.ndarray) -> np.ndarray:
    """How far each row leans away from class 0 (the benign class): log P(not 0) − log P(0)."""
    others = logits[:, 1:]
    peak = others.max(axis=1, keepdims=True)
    lse = peak[:, 0] + np.log(np.exp(others - peak).sum(axis=1))
    result: np.ndarray = lse - logits[:, 0]
    return result


def pool(logits: np.ndarray, owners: np.ndarray, n_owners: int, method: Pooling) -> np.ndarray:
    """Window logits (n_windows, k) → post logits (n_owners, k); every owner has a window."""
    k = logits.shape[1]
    if method == "mean":
        sums = np.zeros((n_owners, k), dtype=np.float64)
        np.add.at(sums, owners, logits)
        counts = np.bincount(owners, minlength=n_owners).astype(np.float64)
        result: np.ndarray = sums / counts[:, None]
        return result
    risk = _risk(logits)
    best = np.full(n_owners, -1, dtype=np.int64)
    best_risk = np.full(n_owners, -np.inf)
    for row, (owner, r) in enumerate(zip(owners, risk, strict=True)):
        if r > best_risk[owner]:
            best_risk[owner], best[owner] = r, row
    chosen: np.ndarray = logits[best].astype(np.float64)
    return chosen
