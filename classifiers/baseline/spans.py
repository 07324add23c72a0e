"""The span model: which words of a hostile comment are the offending ones (trained on ViHOS).

Each word is classified from its own form (as written and folded, prefixes and suffixes: teen
spellings of insults share them) and its neighbours, by one logistic regression over hashed
features; consecutive offending words become one span. The decision threshold is chosen on
ViHOS dev for the best word-level F1. Weights are `.npz`, never pickles. It runs only on posts
the hostile or toxic heads flagged, to show analysts *where* — it never flags on its own.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression

from classifiers.datasets import file_sha256
from classifiers.exceptions import DatasetError
from classifiers.text import fold
from schemas import Evidence, EvidenceKind, Label

__all__ = [
    "SPAN_CARD",
    "SpanModel",
    "char_f1",
    "read_vihos",
    "span_char_f1",
    "span_evidence",
    "train_span_model",
    "word_spans",
]

SPAN_CARD = "spans.json"
_WEIGHTS = "spans.npz"
_N_FEATURES = 2**18
_WORD_RE = re.compile(r"\w+")


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _WORD_RE.finditer(text)]


def _features(text: str, spans: list[tuple[int, int]]) -> list[list[str]]:
    words = [text[s:e] for s, e in spans]
    lowered = [w.lower() for w in words]
    folded = [fold(w) for w in lowered]
    out = []
    for i, word in enumerate(lowered):
        prev = lowered[i - 1] if i > 0 else "<s>"
        after = lowered[i + 1] if i + 1 < len(lowered) else "</s>"
        f = folded[i]
        out.append(
            [
                f"w={word}",
                f"f={f}",
                f"p2={f[:2]}",
                f"p3={f[:3]}",
                f"s2={f[-2:]}",
                f"s3={f[-3:]}",
                f"prev={prev}",
                f"next={after}",
                f"bi-={prev}|{word}",
                f"bi+={word}|{after}",
                f"fprev={folded[i - 1] if i > 0 else '<s>'}",
                f"len={min(len(f), 8)}",
                "upper" if words[i].isupper() and len(words[i]) > 1 else "lower",
            ]
        )
    return out


def read_vihos(path: Path) -> list[tuple[str, set[int]]]:
    rows = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                text = row.get("content") or ""
                try:
                    offsets = set(ast.literal_eval(row.get("index_spans") or "[]"))
                except (ValueError, SyntaxError):
                    continue  # an unreadable span list: skip the row, it cannot teach spans
                if text.strip():
                    rows.append((text, offsets))
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from exc
    return rows


def _examples(rows: list[tuple[str, set[int]]]) -> tuple[list[list[str]], np.ndarray]:
    """Word features, and word labels: 1 when most of the word's characters are in a span."""
    features: list[list[str]] = []
    labels: list[int] = []
    for text, offsets in rows:
        spans = word_spans(text)
        features.extend(_features(text, spans))
        labels.extend(
            int(sum(1 for k in range(s, e) if k in offsets) * 2 > e - s) for s, e in spans
        )
    return features, np.array(labels, dtype=np.int8)


def _f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    tp = int(np.sum((gold == 1) & (predicted == 1)))
    fp = int(np.sum((gold == 0) & (predicted == 1)))
    fn = int(np.sum((gold == 1) & (predicted == 0)))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def char_f1(predicted: list[set[int]], gold: list[set[int]]) -> float:
    """ViHOS's measure: F1 over character offsets, averaged over comments (an empty prediction
    on a clean comment scores 1)."""
    scores = []
    for p, g in zip(predicted, gold, strict=True):
        if not p and not g:
            scores.append(1.0)
            continue
        overlap = len(p & g)
        precision = overlap / len(p) if p else 0.0
        recall = overlap / len(g) if g else 0.0
        scores.append(2 * precision * recall / (precision + recall) if overlap else 0.0)
    return float(np.mean(scores)) if scores else 0.0


@dataclass
class SpanModel:
    coef: np.ndarray
    intercept: float
    threshold: float
    card: dict[str, Any]

    def __post_init__(self) -> None:
        self._hasher = FeatureHasher(
            n_features=self.coef.shape[0], input_type="string", alternate_sign=False
        )

    def word_probabilities(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        ((spans, probabilities),) = self.word_probabilities_batch([text])
        return spans, probabilities

    def word_probabilities_batch(
        self, texts: Sequence[str]
    ) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        """Per text, its words' spans and offending probabilities; one hashing pass for all
        (scikit-learn's hasher costs ~0.3 ms a call, whatever the size)."""
        spans = [word_spans(text) for text in texts]
        features = [f for text, s in zip(texts, spans, strict=True) for f in _features(text, s)]
        if not features:
            return [(s, np.zeros(0)) for s in spans]
        x = self._hasher.transform(features)
        logits = np.asarray(x @ self.coef).ravel() + self.intercept
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        bounds = np.cumsum([0] + [len(s) for s in spans])
        return [(s, probabilities[bounds[i] : bounds[i + 1]]) for i, s in enumerate(spans)]

    def spans(self, text: str) -> list[tuple[int, int, float]]:
        return self.spans_batch([text])[0]

    def spans_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """Offending spans (start, end, strength) per text: consecutive flagged words, merged
        when only spaces or punctuation lie between them."""
        out = []
        for text, (words, probabilities) in zip(
            texts, self.word_probabilities_batch(texts), strict=True
        ):
            merged: list[tuple[int, int, float]] = []
            for (start, end), p in zip(words, probabilities, strict=True):
                if p < self.threshold:
                    continue
                if merged and not text[merged[-1][1] : start].strip(" ,.!?-"):
                    s, _, best = merged[-1]
                    merged[-1] = (s, end, max(best, float(p)))
                else:
                    merged.append((start, end, float(p)))
            out.append(merged)
        return out

    def save(self, directory: Path) -> None:
        np.savez_compressed(
            directory / _WEIGHTS, coef=self.coef, intercept=np.array([self.intercept])
        )
        card = dict(self.card, threshold=self.threshold)
        (directory / SPAN_CARD).write_text(
            json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> SpanModel | None:
        """The span model saved beside a baseline model, or None (models trained without
        ViHOS simply show no spans)."""
        card_path = directory / SPAN_CARD
        if not card_path.is_file():
            return None
        card = json.loads(card_path.read_text(encoding="utf-8"))
        with np.load(directory / _WEIGHTS) as arrays:
            return cls(
                arrays["coef"].astype(np.float32),
                float(arrays["intercept"][0]),
                float(card["threshold"]),
                card,
            )


_SPAN_LABELS = (Label.HATE, Label.OFFENSIVE, Label.TOXIC)


def span_evidence(model: SpanModel | None, text: str, labels: list[Label]) -> list[Evidence]:
    """Character spans of the offending words, for hostile and toxic flags only (any model)."""
    return span_evidence_batch(model, [text], [labels])[0]


def span_evidence_batch(
    model: SpanModel | None, texts: Sequence[str], labels: Sequence[list[Label]]
) -> list[list[Evidence]]:
    """`span_evidence` for several posts, the span model run once over all that need it."""
    out: list[list[Evidence]] = [[] for _ in texts]
    wanted = {
        i: label
        for i, decided in enumerate(labels)
        if (label := next((lab for lab in _SPAN_LABELS if lab in decided), None)) is not None
    }
    if model is None or not wanted:
        return out
    rows = list(wanted)
    for i, found in zip(rows, model.spans_batch([texts[i] for i in rows]), strict=True):
        text = texts[i]
        out[i] = [
            Evidence(
                label=wanted[i],
                kind=EvidenceKind.SPAN,
                text=text[start:end],
                weight=round(strength, 4),
                start=start,
                end=end,
            )
            for start, end, strength in found
        ]
    return out


def span_char_f1(model: SpanModel, rows: list[tuple[str, set[int]]]) -> float:
    """ViHOS's measure for the span model alone, over every row (clean ones included)."""
    predicted = [{k for s, e, _ in model.spans(text) for k in range(s, e)} for text, _ in rows]
    return char_f1(predicted, [gold for _, gold in rows])


def train_span_model(vihos_dir: Path, seed: int = 13, c: float = 0.5) -> SpanModel:
    train_rows, dev_rows = read_vihos(vihos_dir / "train.csv"), read_vihos(vihos_dir / "dev.csv")
    if not train_rows or not dev_rows:
        raise DatasetError(f"{vihos_dir}: ViHOS train.csv and dev.csv are needed")
    hasher = FeatureHasher(n_features=_N_FEATURES, input_type="string", alternate_sign=False)
    x_feats, y = _examples(train_rows)
    x = sp.csr_matrix(hasher.transform(x_feats))
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed, class_weight="balanced")
    clf.fit(x, y)
    model = SpanModel(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), 0.5, {})
    dev_feats, dev_y = _examples(dev_rows)
    probabilities = 1.0 / (
        1.0
        + np.exp(-(np.asarray(hasher.transform(dev_feats) @ model.coef).ravel() + model.intercept))
    )
    best = max(
        (_f1(dev_y, (probabilities >= t).astype(np.int8)), float(t))
        for t in np.arange(0.3, 0.95, 0.025)
    )
    model.threshold = best[1]
    model.card = {
        "model": "canhbao-spans",
        "trained_on": "ViHOS train (word labels from character spans)",
        "features": "hashed word, folded word, affixes, neighbours; logistic regression",
        "c": c,
        "seed": seed,
        "dev": {
            "word_f1": round(best[0], 4),
            "char_f1": round(span_char_f1(model, dev_rows), 4),
            "rows": len(dev_rows),
        },
        "data": {
            name: {"sha256": file_sha256(vihos_dir / name), "rows": len(rows)}
            for name, rows in (("train.csv", train_rows), ("dev.csv", dev_rows))
        },
        "fingerprint": hashlib.sha256(f"{seed}:{c}:{_N_FEATURES}".encode()).hexdigest()[:12],
    }
    return model
