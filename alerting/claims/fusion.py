"""One score per (query, candidate claim) from the lexical and vector scores: a logistic
regression over both and their margins over the query's other candidates (a claim that stands
out from the rest is likelier the one meant than one of many equally close ones). Fitted on
labelled queries; with no encoder it falls back to the lexical features alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alerting.claims.index import Candidate

__all__ = ["Fusion", "candidate_features"]


def candidate_features(candidates: Sequence[Candidate], vectors: bool) -> np.ndarray:
    """[candidates, 2 or 4]: lexical, its margin (, vector, its margin)."""
    columns = [np.asarray([c.lexical for c in candidates], dtype=np.float64)]
    if vectors:
        columns.append(np.asarray([c.vector or 0.0 for c in candidates], dtype=np.float64))
    out = []
    for values in columns:
        if len(values) > 1:
            top2 = np.sort(values)[-2:]
            other_best = np.where(values >= top2[1], top2[0], top2[1])
        else:
            other_best = np.zeros_like(values)
        out += [values, values - other_best]
    return np.stack(out, axis=1)


@dataclass(frozen=True, slots=True)
class Fusion:
    weights: tuple[float, ...]
    bias: float
    vectors: bool  # whether it reads the vector scores

    def scores(self, candidates: Sequence[Candidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0)
        z = candidate_features(candidates, self.vectors) @ np.asarray(self.weights) + self.bias
        out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return out

    @classmethod
    def fit(
        cls,
        candidates: Sequence[Sequence[Candidate]],
        gold: Sequence[set[str]],
        vectors: bool,
        query_weights: Sequence[float] | None = None,
    ) -> Fusion:
        """`query_weights`: each query's weight (spread over its candidates), so that a big
        easy set does not drown a small hard one."""
        from sklearn.linear_model import LogisticRegression

        weights = query_weights or [1.0] * len(candidates)
        rows, labels, sample = [], [], []
        for cs, g, w in zip(candidates, gold, weights, strict=True):
            if cs:
                rows.append(candidate_features(cs, vectors))
                labels.append(np.asarray([c.claim_id in g for c in cs], dtype=np.int64))
                sample.append(np.full(len(cs), w / len(cs)))
        x, y = np.concatenate(rows), np.concatenate(labels)
        if len(set(y.tolist())) < 2:
            raise ValueError("fusion needs both matching and non-matching candidates")
        w_all = np.concatenate(sample)
        model = LogisticRegression(C=10.0, max_iter=1000).fit(
            x, y, sample_weight=w_all / w_all.mean()
        )
        return cls(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), vectors)

    def to_json(self) -> dict[str, object]:
        return {"weights": list(self.weights), "bias": self.bias, "vectors": self.vectors}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fusion:
        weights = data["weights"]
        assert isinstance(weights, list)
        return cls(
            tuple(float(w) for w in weights), float(str(data["bias"])), bool(data["vectors"])
        )
