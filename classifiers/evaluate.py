"""`canhbao eval`: score any `Classifier` on a labelled file in its dataset's original format.

It scores what production scores: texts and titles pass through `normalize_text` first, as the
pipeline's normalise stage does before any model sees a post (and as training does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.base import Classifier, ClassifierInput
from classifiers.datasets import LabelledSet, read_dataset
from classifiers.metrics import classification_report, decide
from classifiers.text import normalize_text
from schemas import Classification, Label, PostKind

__all__ = ["evaluate", "evaluate_set"]

# The kind of post each dataset is made of, so that every head runs inside its domain.
_KIND = {
    "vispamreviews": PostKind.REVIEW,
    "reintel": PostKind.POST,
    "viclickbait": PostKind.ARTICLE,
}
# The head whose classes each dataset's labels are (ViHOS is scored as hostile-or-not instead).
_HEAD = {
    "vihsd": "hostile",
    "vlsp2019": "hostile",
    "victsd": "toxic",
    "reintel": "misinformation",
    "viclickbait": "clickbait",
    "vispamreviews": "spam",
}
_BINARY_LABEL = {
    "victsd": Label.TOXIC,
    "reintel": Label.MISINFORMATION,
    "viclickbait": Label.CLICKBAIT,
    "vispamreviews": Label.SPAM,
}


def _probabilities(dataset: str, result: Classification) -> list[float] | None:
    s = result.scores
    if result.skipped is not None or not s:
        return None
    if dataset in ("vihsd", "vlsp2019"):
        off, hate = s[Label.OFFENSIVE], s[Label.HATE]
        return [max(0.0, 1.0 - off - hate), off, hate]
    if dataset == "vihos":
        hostile = min(1.0, s[Label.OFFENSIVE] + s[Label.HATE])
        return [1.0 - hostile, hostile]
    score = s.get(_BINARY_LABEL[dataset])
    return None if score is None else [1.0 - score, score]


def _normalised(title: str | None) -> str | None:
    return normalize_text(title) if title else title


def evaluate_set(
    classifier: Classifier,
    data: LabelledSet,
    batch_size: int = 512,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every row gets a prediction. Rows the model declines (`skipped`: no letters, not
    Vietnamese) raise no alert in production, so the headline metrics count them as the
    negative class — but never silently: `unclassified` gives their number and their true
    classes, and `scored_only` the metrics over the rows the model did score."""
    proba_rows: list[list[float]] = []
    declined: list[int] = []
    n_classes = len(data.classes)
    for start in range(0, len(data), batch_size):
        inputs = [
            ClassifierInput(
                post_id=f"{i:032x}",
                text=normalize_text(data.texts[i]),
                title=_normalised(data.titles[i]),
                engagement=data.engagement[i],
                language="vi",  # the datasets are Vietnamese: evaluate the model, not the filter
                kind=_KIND.get(data.name, PostKind.COMMENT),
            )
            for i in range(start, min(start + batch_size, len(data)))
        ]
        for result in classifier.predict(inputs):
            row = _probabilities(data.name, result)
            if row is None:
                declined.append(len(proba_rows))
                row = [1.0] + [0.0] * (n_classes - 1)
            proba_rows.append(row)
        if progress is not None:
            progress(len(proba_rows), len(data))
    proba = np.asarray(proba_rows, dtype=np.float64).reshape(-1, n_classes)
    offsets_of = getattr(classifier, "decision_offsets", None)
    offsets = offsets_of(_HEAD[data.name]) if offsets_of and data.name in _HEAD else None
    y_true = np.asarray(data.y)
    decided = decide(proba, offsets)
    report = classification_report(y_true, decided, proba, data.classes)
    argmax = classification_report(y_true, proba.argmax(axis=1), proba, data.classes)
    scored = np.ones(len(y_true), dtype=bool)
    scored[declined] = False
    scored_only = (
        classification_report(y_true[scored], decided[scored], proba[scored], data.classes)
        if scored.any()
        else None
    )
    return {
        "dataset": data.name,
        **report,
        # how classes were decided: the model's dev-tuned macro-F1 offsets, or plain argmax
        "decision": "dev_offsets" if offsets is not None else "argmax",
        "argmax_macro_f1": argmax["macro_f1"],
        "empty_rows": data.empty_rows,
        "unclassified": {
            "count": len(declined),
            "by_true_class": {
                name: int((y_true[declined] == i).sum()) for i, name in enumerate(data.classes)
            },
            "counted_as": data.classes[0],
        },
        "scored_only": None
        if scored_only is None
        else {"n": scored_only["n"], "macro_f1": scored_only["macro_f1"]},
        "model": f"{classifier.name}@{classifier.version}",
    }


def evaluate(
    classifier: Classifier,
    dataset: str,
    path: Path,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    report = evaluate_set(classifier, read_dataset(dataset, path), progress=progress)
    spans = getattr(classifier, "spans", None)
    if dataset == "vihos" and spans is not None:
        # The span model on its own, by ViHOS's character-level F1 (null if the model has none).
        from classifiers.baseline.spans import read_vihos, span_char_f1

        report["span_char_f1"] = round(span_char_f1(spans, read_vihos(path)), 4)
    return report
