"""The baseline multi-head linear model: load, save, predict.

Weights are plain arrays in `.npz` files next to a JSON model card, never pickles: loading a
model cannot run code, and the card says exactly what was trained on what.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from classifiers.base import ClassifierInput
from classifiers.baseline.features import HASHING, FeatureConfig, Featurizer
from classifiers.baseline.meta import meta_features
from classifiers.baseline.spans import SPAN_CARD, SpanModel, span_evidence_batch
from classifiers.calibration import class_probabilities
from classifiers.exceptions import ClassifierError, ModelFormatError, ModelNotFoundError
from classifiers.heads import HEADS, HeadSpec
from classifiers.scoring import ScoringModel, record_scores
from classifiers.text import text_for_model
from schemas import Evidence, EvidenceKind, Label

__all__ = ["MODEL_NAME", "BaselineModel", "LinearHead"]

MODEL_NAME = "canhbao-baseline"
CARD_FILE = "model.json"
_EVIDENCE_PER_LABEL = 5


@dataclass
class LinearHead:
    spec: HeadSpec
    coef: np.ndarray  # (k, n_features); k = 1 for a binary head
    intercept: np.ndarray  # (k,)
    meta_coef: np.ndarray | None  # (k, len(META_FEATURES))
    thresholds: dict[Label, float]
    _weights: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    # (n_features, k), C order: `x @ coef.T` on the (k, n) array makes SciPy copy the whole
    # transposed matrix on every call (4–12 MB a head; 7 ms of an 8 ms single-post predict).
    _columns: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._columns = np.ascontiguousarray(self.coef.T)

    def proba(self, x: sp.csr_matrix, meta: np.ndarray | None) -> np.ndarray:
        logits = np.asarray(x @ self._columns) + self.intercept
        if self.meta_coef is not None and meta is not None:
            logits = logits + meta @ self.meta_coef.T
        return class_probabilities(logits)

    def class_weights(self, class_index: int) -> np.ndarray:
        """Per-feature weight towards `class_index` (binary heads: the positive class).
        Computed once per class: it spans every hashed feature, and evidence asks per post."""
        cache = self._weights
        if class_index not in cache:
            if self.coef.shape[0] == 1:
                cache[class_index] = self.coef[0] if class_index == 1 else -self.coef[0]
            else:
                cache[class_index] = self.coef[class_index] - self.coef.mean(axis=0)
        return cache[class_index]


class BaselineModel(ScoringModel):
    """Fast CPU classifier: one hashed TF-IDF transform, one linear head per task."""

    def __init__(
        self,
        featurizer: Featurizer,
        heads: Sequence[LinearHead],
        card: dict[str, Any],
        spans: SpanModel | None = None,
    ) -> None:
        self.featurizer = featurizer
        self.heads = list(heads)
        self.card = card
        self.spans = spans  # where the offending words are (ViHOS); None: no span evidence

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unversioned"))

    @property
    def thresholds(self) -> dict[Label, float]:
        return {label: t for head in self.heads for label, t in head.thresholds.items()}

    # persistence --------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path) -> BaselineModel:
        card_path = directory / CARD_FILE
        if not card_path.is_file():
            raise ModelNotFoundError(
                f"no baseline model in {directory}: run `canhbao train baseline --out {directory}`"
            )
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            if card.get("hashing") != HASHING:
                raise ModelFormatError(
                    f"{directory} was trained with another feature hashing"
                    f" ({card.get('hashing', 'scikit-learn HashingVectorizer')}, not {HASHING}):"
                    f" retrain it with `canhbao train baseline --out {directory}`"
                )
            config = FeatureConfig(**card["features"])
            with np.load(directory / "features.npz") as arrays:
                featurizer = Featurizer(config, idf=arrays["idf"])
            heads = []
            specs = {spec.name: spec for spec in HEADS}
            for name, head_card in card["heads"].items():
                with np.load(directory / f"head_{name}.npz") as arrays:
                    coef = sp.csr_matrix(
                        (arrays["data"], arrays["indices"], arrays["indptr"]),
                        shape=tuple(arrays["shape"]),
                    ).toarray()
                    meta = arrays["meta_coef"] if "meta_coef" in arrays.files else None
                    heads.append(
                        LinearHead(
                            spec=specs[name],
                            coef=coef.astype(np.float32),
                            intercept=arrays["intercept"].astype(np.float32),
                            meta_coef=meta,
                            thresholds={
                                Label(k): float(v) for k, v in head_card["thresholds"].items()
                            },
                        )
                    )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ClassifierError(f"cannot load baseline model from {directory}: {exc}") from exc
        return cls(featurizer, heads, card, SpanModel.load(directory))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.spans is not None:
            self.spans.save(directory)
        else:  # a span model from an earlier training must not outlive it
            for stale in (SPAN_CARD, "spans.npz"):
                (directory / stale).unlink(missing_ok=True)
        assert self.featurizer.idf is not None
        np.savez_compressed(directory / "features.npz", idf=self.featurizer.idf)
        for head in self.heads:
            sparse = sp.csr_matrix(head.coef)  # most hashed columns never occur in training
            arrays: dict[str, np.ndarray] = {
                "data": sparse.data,
                "indices": sparse.indices,
                "indptr": sparse.indptr,
                "shape": np.array(sparse.shape),
                "intercept": head.intercept,
            }
            if head.meta_coef is not None:
                arrays["meta_coef"] = head.meta_coef
            np.savez_compressed(directory / f"head_{head.spec.name}.npz", **arrays)  # type: ignore[arg-type]
        (directory / CARD_FILE).write_text(
            json.dumps(self.card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    # prediction ---------------------------------------------------------------------------

    def head_probabilities(
        self, batch: Sequence[ClassifierInput], model_texts: list[str], live: list[int]
    ) -> dict[str, tuple[list[int], np.ndarray]]:
        """Each head's class probabilities, as (rows of `batch` it scored, [rows, classes]):
        headline heads score only the posts that have a headline."""
        x_text = self.featurizer.transform([model_texts[i] for i in live])
        titled = [i for i in live if batch[i].title]
        x_title = (
            self.featurizer.transform([text_for_model(batch[i].title or "") for i in titled])
            if titled
            else None
        )
        meta = np.vstack([meta_features(batch[i].engagement, model_texts[i]) for i in live])
        out: dict[str, tuple[list[int], np.ndarray]] = {}
        for head in self.heads:
            if head.spec.source == "title":
                if x_title is not None:
                    out[head.spec.name] = (titled, head.proba(x_title, None))
            else:
                out[head.spec.name] = (
                    live,
                    head.proba(x_text, meta if head.spec.uses_meta else None),
                )
        return out

    def _score(
        self,
        batch: Sequence[ClassifierInput],
        model_texts: list[str],
        live: list[int],
        scores: list[dict[Label, float]],
    ) -> None:
        specs = {head.spec.name: head.spec for head in self.heads}
        for name, (rows, proba) in self.head_probabilities(batch, model_texts, live).items():
            record_scores(specs[name], rows, proba, batch, scores)

    def _evidence_batch(
        self, texts: list[str], model_texts: list[str], labels: list[list[Label]]
    ) -> list[list[Evidence]]:
        return self.ngram_evidence(texts, model_texts, labels)

    def ngram_evidence(
        self, texts: list[str], model_texts: list[str], labels: list[list[Label]]
    ) -> list[list[Evidence]]:
        """Per post, the word n-grams that pushed each decided label up most, located in its
        text (and the span model's offending words). The n-grams of every post are hashed in
        one call."""
        grams = self.featurizer.post_word_ngrams(model_texts)
        spans = span_evidence_batch(self.spans, texts, labels)
        return [
            spans[k] + self._post_evidence(text, *grams[k], decided)
            for k, (text, decided) in enumerate(zip(texts, labels, strict=True))
        ]

    def _post_evidence(
        self, text: str, ngrams: list[str], columns: np.ndarray, labels: list[Label]
    ) -> list[Evidence]:
        assert self.featurizer.idf is not None
        idf = self.featurizer.idf[columns]
        evidence: list[Evidence] = []
        words: _Words | None = None  # split only for a post that has evidence to locate
        for label in labels:
            head = next(h for h in self.heads if label in h.spec.labels)
            if head.spec.source == "title":
                continue  # headline evidence would point into another field
            weights = head.class_weights(head.spec.labels[label])[columns] * idf
            for k in np.argsort(-weights)[:_EVIDENCE_PER_LABEL]:
                if weights[k] <= 0:
                    break
                words = words or _Words(text)
                span = words.locate(ngrams[k])
                # Built from this model's own checked values: constructed, not re-validated
                # (validation was a tenth of prediction time on a hostile-heavy stream).
                evidence.append(
                    Evidence.model_construct(
                        label=label,
                        kind=EvidenceKind.NGRAM,
                        text=ngrams[k],
                        weight=round(float(weights[k]), 4),
                        start=span[0] if span else None,
                        end=span[1] if span else None,
                    )
                )
        return evidence


_WORD = re.compile(r"\w+")


class _Words:
    """Where an n-gram of the model text occurs in the post's text: its words, case-folded, in
    sequence with only non-word characters between (the first occurrence). The text is split
    once per post; n-grams with tags or symbols fall back to a regular expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        matches = list(_WORD.finditer(text))
        self._spans = [m.span() for m in matches]
        self._folded = [m.group().casefold() for m in matches]
        self._starts: dict[str, list[int]] = {}
        for i, word in enumerate(self._folded):
            self._starts.setdefault(word, []).append(i)

    def locate(self, ngram: str) -> tuple[int, int] | None:
        words = [w for w in ngram.split(" ") if w]
        if not words or any(w.startswith("<") for w in words):
            return None
        if not all(_WORD.fullmatch(w) for w in words):
            pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"
            match = re.search(pattern, self.text, flags=re.IGNORECASE)
            return match.span() if match else None
        n = len(words)
        for i in self._starts.get(words[0], ()):
            if self._folded[i : i + n] == words:
                return self._spans[i][0], self._spans[i + n - 1][1]
        return None
