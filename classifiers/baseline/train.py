"""Reproducible training of the baseline model from the labelled datasets.

Every head is trained on its dataset's train split and tuned on its dev split (or, where the
dataset ships no dev split, on a fixed stratified fifth of train). Nothing here looks at a test
split. The model card records data hashes, seeds, chosen hyper-parameters and dev metrics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from classifiers.baseline.features import HASHING, FeatureConfig, Featurizer
from classifiers.baseline.meta import meta_features
from classifiers.baseline.model import MODEL_NAME, BaselineModel, LinearHead
from classifiers.baseline.spans import train_span_model
from classifiers.calibration import softmax
from classifiers.datasets import LabelledSet
from classifiers.dev_report import dev_evaluation
from classifiers.exceptions import DatasetError
from classifiers.heads import HEADS, HeadSpec
from classifiers.metrics import fit_decision_offsets
from classifiers.training_data import DEFAULT_PLAN, DataSplit, head_model_texts, load_head_data
from schemas import utc_now

__all__ = ["TrainingOptions", "train_baseline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    seed: int = 13
    target_precision: float = 0.6  # alert thresholds: most recall at this dev precision
    c_grid: tuple[float, ...] = (1.0, 4.0, 16.0)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    max_iter: int = 3000


@dataclass
class _Prepared:
    model_texts: list[str]
    meta: np.ndarray
    y: np.ndarray


def _prepare(data: LabelledSet, spec: HeadSpec) -> _Prepared:
    model_texts = head_model_texts(data, spec)
    meta = np.vstack(
        [meta_features(e, t) for e, t in zip(data.engagement, model_texts, strict=True)]
    )
    return _Prepared(model_texts, meta, np.asarray(data.y, dtype=np.int64))


def _design(featurizer: Featurizer, data: _Prepared, spec: HeadSpec) -> sp.csr_matrix:
    x = featurizer.transform(data.model_texts)
    if spec.uses_meta:
        x = sp.hstack([x, sp.csr_matrix(data.meta)], format="csr")
    return x


def _fit(x: sp.csr_matrix, y: np.ndarray, c: float, opts: TrainingOptions) -> LogisticRegression:
    binary = len(np.unique(y)) <= 2
    model = LogisticRegression(
        C=c,
        solver="liblinear" if binary else "lbfgs",
        max_iter=opts.max_iter,
        random_state=opts.seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log.warning("logistic regression did not fully converge (C=%s)", c)
    return model


def _score_for_selection(
    coef: np.ndarray, intercept: np.ndarray, x: sp.csr_matrix, y: np.ndarray
) -> float:
    """Dev average precision (binary heads: ranking is what thresholds work on), or macro-F1
    under the decision rule the model will use (multi-class: argmax after tuned offsets)."""
    logits = np.asarray(x @ coef.T) + intercept
    if logits.shape[1] == 1:
        return float(average_precision_score(y, logits[:, 0]))
    return fit_decision_offsets(softmax(logits), y)[1]


def _nb_ratios(x: sp.csr_matrix, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratios per feature (Wang & Manning 2012, NB-LR): how much more
    often a feature occurs in positive than in negative rows, smoothed."""
    present = x.copy()
    present.data[:] = 1.0
    pos = alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
    neg = alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
    ratios: np.ndarray = np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)
    return ratios


def _candidates(
    x_train: sp.csr_matrix, y: np.ndarray, n_text: int, opts: TrainingOptions
) -> list[tuple[str, float, np.ndarray | None]]:
    """(kind, C, feature scaling): plain logistic regression for every head and, for binary
    heads, NB-LR (text features scaled by their NB ratios; engagement features unscaled)."""
    plain: list[tuple[str, float, np.ndarray | None]] = [("lr", c, None) for c in opts.c_grid]
    if len(np.unique(y)) > 2:
        return plain
    scale = np.ones(x_train.shape[1], dtype=np.float32)
    scale[:n_text] = _nb_ratios(x_train[:, :n_text], y)
    return plain + [("nb-lr", c, scale) for c in opts.c_grid]


def _train_head(
    spec: HeadSpec,
    featurizer: Featurizer,
    train: _Prepared,
    dev: _Prepared,
    opts: TrainingOptions,
) -> tuple[LinearHead, dict[str, Any]]:
    x_train, x_dev = _design(featurizer, train, spec), _design(featurizer, dev, spec)
    n_text = featurizer.config.n_features
    best: tuple[float, str, float, np.ndarray, np.ndarray] | None = None
    for kind, c, scale in _candidates(x_train, train.y, n_text, opts):
        fit_x = x_train if scale is None else x_train.multiply(scale).tocsr()
        model = _fit(fit_x, train.y, c, opts)
        coef = np.asarray(model.coef_, dtype=np.float32)
        if scale is not None:  # w·(r⊙x) = (w⊙r)·x: the head stays one plain linear layer
            coef = coef * scale
        score = _score_for_selection(coef, model.intercept_, x_dev, dev.y)
        log.info("head %s: %s C=%s dev selection score %.4f", spec.name, kind, c, score)
        if best is None or score > best[0]:
            best = (score, kind, c, coef, np.asarray(model.intercept_))
    assert best is not None
    _, kind, c, coef, intercept = best
    head = LinearHead(
        spec=spec,
        coef=coef[:, :n_text].astype(np.float32),
        intercept=intercept.astype(np.float32),
        meta_coef=coef[:, n_text:].astype(np.float32) if spec.uses_meta else None,
        thresholds={},
    )
    proba = head.proba(x_dev[:, :n_text], dev.meta if spec.uses_meta else None)
    thresholds, dev_fields = dev_evaluation(spec, dev.y, proba, opts.target_precision, opts.seed)
    head.thresholds.update(thresholds)
    card = {
        "classes": list(spec.classes),
        "labels": {label.value: i for label, i in spec.labels.items()},
        "source": spec.source,
        "uses_meta": spec.uses_meta,
        "learner": kind,
        "C": c,
        "train_rows": len(train.y),
        "dev_rows": len(dev.y),
        **dev_fields,
    }
    return head, card


def train_baseline(
    data_dir: Path,
    out_dir: Path,
    opts: TrainingOptions = TrainingOptions(),
    plan: dict[str, DataSplit] | None = None,
    progress: Callable[[str], None] = log.info,
) -> BaselineModel:
    plan = DEFAULT_PLAN if plan is None else plan
    if not data_dir.is_dir():
        raise DatasetError(f"datasets folder not found: {data_dir}")
    started = time.perf_counter()
    hashes: dict[str, Any] = {}
    prepared: dict[str, tuple[_Prepared, _Prepared]] = {}
    specs = [spec for spec in HEADS if spec.name in plan]
    for spec in specs:
        train, dev = load_head_data(spec, plan[spec.name], data_dir, opts.seed, hashes)
        prepared[spec.name] = (_prepare(train, spec), _prepare(dev, spec))
        progress(f"loaded {spec.name}: train {len(train)} rows, dev {len(dev)} rows")
    featurizer = Featurizer(opts.features)
    # IDF comes from every head's training text; dev text never informs it.
    featurizer.fit_idf([t for tr, _ in prepared.values() for t in tr.model_texts])
    heads, head_cards = [], {}
    for i, spec in enumerate(specs, start=1):
        t0 = time.perf_counter()
        head, card = _train_head(spec, featurizer, *prepared[spec.name], opts)
        heads.append(head)
        head_cards[spec.name] = card
        progress(
            f"[{i}/{len(specs)}] {spec.name}: dev macro-F1 {card['dev_decision']['macro_f1']:.4f}"
            f" (argmax {card['dev']['macro_f1']:.4f})"
            f" ({time.perf_counter() - t0:.1f}s)"
        )
    spans = None
    vihos = data_dir / "vihos"
    if (vihos / "train.csv").is_file():
        progress("span model: ViHOS")
        spans = train_span_model(vihos, seed=opts.seed)
        hashes.update({f"vihos/{name}": meta for name, meta in spans.card["data"].items()})
        progress(f"span model: dev char-F1 {spans.card['dev']['char_f1']:.4f}")
    # The version changes with any training data, the span model's included.
    fingerprint = hashlib.sha256(
        json.dumps([hashes, opts.features.to_dict(), HASHING, opts.seed], sort_keys=True).encode()
    ).hexdigest()[:10]
    card = {
        "model": MODEL_NAME,
        "version": f"{utc_now():%Y%m%d}-{fingerprint}",
        "created_at": utc_now().isoformat(),
        "seed": opts.seed,
        "target_precision": opts.target_precision,
        "features": opts.features.to_dict(),
        "hashing": HASHING,
        "data": hashes,
        "heads": head_cards,
        "training_seconds": round(time.perf_counter() - started, 1),
        "note": "Dev metrics only. Trained on research datasets: a build output, never commit it.",
    }
    if spans is not None:
        card["spans"] = spans.card
    model = BaselineModel(featurizer, heads, card, spans)
    model.save(out_dir)
    return model
