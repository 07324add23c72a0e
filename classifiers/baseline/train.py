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
from sklearn.metrics import average_precision_score, f1_score
from sklearn.model_selection import train_test_split

from classifiers.baseline.features import FeatureConfig, Featurizer
from classifiers.baseline.heads import HEADS, HeadSpec, meta_features
from classifiers.baseline.model import MODEL_NAME, BaselineModel, LinearHead
from classifiers.baseline.spans import train_span_model
from classifiers.datasets import LabelledSet, file_sha256, read_dataset
from classifiers.exceptions import DatasetError
from classifiers.metrics import choose_threshold, classification_report
from classifiers.text import normalize_text, text_for_model
from schemas import utc_now

__all__ = ["DEFAULT_PLAN", "DataSplit", "TrainingOptions", "train_baseline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DataSplit:
    """Where one head's data comes from, relative to the datasets folder."""

    train: tuple[tuple[str, str], ...]  # (dataset reader, relative path)
    dev: tuple[str, str] | None  # None: hold out a stratified fifth of train


DEFAULT_PLAN: dict[str, DataSplit] = {
    "hostile": DataSplit(
        train=(("vihsd", "vihsd/train.csv"), ("vlsp2019", "vlsp2019_hsd/train.csv")),
        dev=("vihsd", "vihsd/dev.csv"),
    ),
    "toxic": DataSplit(
        train=(("victsd", "victsd/ViCTSD_train.csv"),), dev=("victsd", "victsd/ViCTSD_valid.csv")
    ),
    "misinformation": DataSplit(train=(("reintel", "reintel/train.csv"),), dev=None),
    "clickbait": DataSplit(train=(("viclickbait", "viclickbait/train.csv"),), dev=None),
    "spam": DataSplit(
        train=(("vispamreviews", "vispamreviews/train.csv"),),
        dev=("vispamreviews", "vispamreviews/dev.csv"),
    ),
}


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
    raw = data.titles if spec.source == "title" else data.texts
    model_texts = [text_for_model(normalize_text(t or "")) for t in raw]
    meta = np.vstack(
        [meta_features(e, t) for e, t in zip(data.engagement, model_texts, strict=True)]
    )
    return _Prepared(model_texts, meta, np.asarray(data.y, dtype=np.int64))


def _subset(data: LabelledSet, rows: np.ndarray) -> LabelledSet:
    out = LabelledSet(data.name, data.classes)
    for i in rows:
        out.add(data.texts[i], data.y[i], data.titles[i], data.engagement[i])
    return out


def _load_head_data(
    spec: HeadSpec, split: DataSplit, root: Path, seed: int, hashes: dict[str, Any]
) -> tuple[LabelledSet, LabelledSet]:
    parts = []
    for reader, rel in split.train:
        path = root / rel
        parts.append(read_dataset(reader, path))
        hashes[rel] = {"sha256": file_sha256(path), "rows": len(parts[-1])}
    train = parts[0]
    for extra in parts[1:]:
        for i in range(len(extra)):
            train.add(extra.texts[i], extra.y[i], extra.titles[i], extra.engagement[i])
    if split.dev is not None:
        path = root / split.dev[1]
        dev = read_dataset(split.dev[0], path)
        hashes[split.dev[1]] = {"sha256": file_sha256(path), "rows": len(dev)}
        return train, dev
    rows = np.arange(len(train))
    fit_rows, dev_rows = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=np.asarray(train.y)
    )
    return _subset(train, np.sort(fit_rows)), _subset(train, np.sort(dev_rows))


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


def _score_for_selection(model: LogisticRegression, x: sp.csr_matrix, y: np.ndarray) -> float:
    proba = model.predict_proba(x)
    if proba.shape[1] == 2:
        return float(average_precision_score(y, proba[:, 1]))
    return float(f1_score(y, proba.argmax(axis=1), average="macro"))


def _train_head(
    spec: HeadSpec,
    featurizer: Featurizer,
    train: _Prepared,
    dev: _Prepared,
    opts: TrainingOptions,
) -> tuple[LinearHead, dict[str, Any]]:
    x_train, x_dev = _design(featurizer, train, spec), _design(featurizer, dev, spec)
    best: tuple[float, float, LogisticRegression] | None = None
    for c in opts.c_grid:
        model = _fit(x_train, train.y, c, opts)
        score = _score_for_selection(model, x_dev, dev.y)
        log.info("head %s: C=%s dev selection score %.4f", spec.name, c, score)
        if best is None or score > best[0]:
            best = (score, c, model)
    assert best is not None
    _, c, model = best
    coef = np.asarray(model.coef_, dtype=np.float32)
    n_text = featurizer.config.n_features
    head = LinearHead(
        spec=spec,
        coef=coef[:, :n_text],
        intercept=np.asarray(model.intercept_, dtype=np.float32),
        meta_coef=coef[:, n_text:] if spec.uses_meta else None,
        thresholds={},
    )
    proba = head.proba(x_dev[:, :n_text], dev.meta if spec.uses_meta else None)
    report = classification_report(dev.y, proba.argmax(axis=1), proba, spec.classes)
    threshold_reports = {}
    for label, class_index in spec.labels.items():
        truth = (dev.y == class_index).astype(np.int64)
        threshold, numbers = choose_threshold(truth, proba[:, class_index], opts.target_precision)
        head.thresholds[label] = round(threshold, 6)
        threshold_reports[label.value] = numbers
    card = {
        "classes": list(spec.classes),
        "labels": {label.value: i for label, i in spec.labels.items()},
        "source": spec.source,
        "uses_meta": spec.uses_meta,
        "C": c,
        "train_rows": len(train.y),
        "dev_rows": len(dev.y),
        "thresholds": {label.value: t for label, t in head.thresholds.items()},
        "dev": report,
        "dev_at_threshold": threshold_reports,
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
        train, dev = _load_head_data(spec, plan[spec.name], data_dir, opts.seed, hashes)
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
            f"[{i}/{len(specs)}] {spec.name}: dev macro-F1 {card['dev']['macro_f1']:.4f}"
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
        json.dumps([hashes, opts.features.to_dict(), opts.seed], sort_keys=True).encode()
    ).hexdigest()[:10]
    card = {
        "model": MODEL_NAME,
        "version": f"{utc_now():%Y%m%d}-{fingerprint}",
        "created_at": utc_now().isoformat(),
        "seed": opts.seed,
        "target_precision": opts.target_precision,
        "features": opts.features.to_dict(),
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
