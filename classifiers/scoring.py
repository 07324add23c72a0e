"""What every text model does around its own scoring: screen inputs, decide labels against
thresholds, attach evidence and build `Classification`s. A model supplies only `_score` (and,
optionally, `_evidence`); the rules for skipped inputs, domains and decisions live here once."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from classifiers.base import ClassifierInput
from classifiers.heads import HEADS, HeadSpec
from classifiers.screening import skip_reasons
from classifiers.text import text_for_model
from schemas import Classification, Evidence, Label, PostKind, SkipReason, utc_now

__all__ = ["ScoringModel", "record_scores"]


def record_scores(
    spec: HeadSpec,
    rows: Sequence[int],
    proba: np.ndarray,
    batch: Sequence[ClassifierInput],
    scores: list[dict[Label, float]],
) -> None:
    """Write a head's probabilities for `rows` into `scores`, except for posts outside the
    head's domain (`spec.kinds`): a review-spam head says nothing about a news post."""
    for row, probabilities in zip(rows, proba, strict=True):
        if spec.kinds is not None and batch[row].kind not in spec.kinds:
            continue
        for label, class_index in spec.labels.items():
            scores[row][label] = round(float(probabilities[class_index]), 6)


def _letterless_labels(kind: PostKind) -> frozenset[Label]:
    """The labels of the heads that score a text without letters in posts of `kind`."""
    return frozenset(
        label
        for spec in HEADS
        if spec.scores_letterless and (spec.kinds is None or kind in spec.kinds)
        for label in spec.labels
    )


class ScoringModel(abc.ABC):
    card: dict[str, Any]  # the model card: heads, thresholds, decision offsets, dev metrics

    def decision_offsets(self, head: str) -> np.ndarray | None:
        """The head's benchmark decision rule (see `metrics.fit_decision_offsets`); None for
        a model trained before it existed: plain argmax then."""
        offsets = self.card.get("heads", {}).get(head, {}).get("decision_offsets")
        return None if offsets is None else np.asarray(offsets, dtype=np.float64)

    @property
    @abc.abstractmethod
    def name(self) -> str: ...

    @property
    @abc.abstractmethod
    def version(self) -> str: ...

    @property
    @abc.abstractmethod
    def thresholds(self) -> dict[Label, float]: ...

    @abc.abstractmethod
    def _score(
        self,
        batch: Sequence[ClassifierInput],
        model_texts: list[str],
        live: list[int],
        scores: list[dict[Label, float]],
    ) -> None:
        """Fill `scores[i]` for every `i` in `live` (inputs that passed screening)."""

    def _evidence(self, text: str, model_text: str, labels: list[Label]) -> list[Evidence]:
        return []

    def _evidence_batch(
        self, texts: list[str], model_texts: list[str], labels: list[list[Label]]
    ) -> list[list[Evidence]]:
        """Evidence for several posts at once (a model may share work across them)."""
        return [self._evidence(*args) for args in zip(texts, model_texts, labels, strict=True)]

    def predict(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        now = utc_now()
        thresholds = self.thresholds
        model_texts = [text_for_model(item.text) for item in batch]
        skipped = skip_reasons(batch, model_texts)
        # Letterless texts are still scored by the heads for which they are a signal (review
        # spam), and by no other head.
        partial = {
            i: labels
            for i, reason in skipped.items()
            if reason is SkipReason.NO_TEXT and (labels := _letterless_labels(batch[i].kind))
        }
        for i in partial:
            del skipped[i]
        live = [i for i in range(len(batch)) if i not in skipped]
        scores: list[dict[Label, float]] = [{} for _ in batch]
        if live:
            self._score(batch, model_texts, live, scores)
        for i, labels in partial.items():
            scores[i] = {label: score for label, score in scores[i].items() if label in labels}
        decided = [
            [label for label, score in row.items() if score >= thresholds[label]] for row in scores
        ]
        explained = [i for i in range(len(batch)) if decided[i] and i not in skipped]
        found = self._evidence_batch(
            [batch[i].text for i in explained],
            [model_texts[i] for i in explained],
            [decided[i] for i in explained],
        )
        evidence_of = dict(zip(explained, found, strict=True))
        results = []
        for i, item in enumerate(batch):
            reason = skipped.get(i)
            results.append(
                Classification(
                    post_id=item.post_id,
                    model=self.name,
                    model_version=self.version,
                    scores=scores[i],
                    thresholds=thresholds,
                    labels=decided[i],
                    evidence=evidence_of.get(i, []),
                    skipped=reason,
                    classified_at=now,
                )
            )
        return results
