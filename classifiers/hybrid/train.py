"""Training the hybrid model on top of a trained baseline and the built encoder.

Per head, on the same rows as the baseline (its card's seed picks the same dev split):
1. embed the head's train rows (at most `max_train_rows`, stratified) and its dev rows, as the
   pipeline embeds posts (`post_passage`: headline and text, the encoder's token budget);
2. fit a logistic regression on the standardised train embeddings (C chosen on dev log-loss);
3. on dev, where both models' scores are honest (neither saw dev), fit a mixer — a logistic
   regression over the two models' log-odds — by two-fold cross-fitting, and compare the
   cross-fitted mix with the n-gram head alone (average precision; multi-class: macro-F1 of
   the cross-fitted decision rule). The head mixes only if that wins; its thresholds and dev
   metrics come from the cross-fitted probabilities, the mixer then refitted on all of dev.
Nothing here reads a test split.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, log_loss

from classifiers.base import ClassifierInput
from classifiers.baseline import BaselineModel
from classifiers.datasets import LabelledSet
from classifiers.dev_report import dev_evaluation
from classifiers.embedding import post_passage
from classifiers.encoder.runtime import SentenceEncoder
from classifiers.exceptions import DatasetError
from classifiers.heads import HEADS, HeadSpec
from classifiers.hybrid.model import MODEL_NAME, HybridHead, HybridModel, LinearMap, mix_features
from classifiers.hybrid.tuned import TOP_GRAPH, TunedTop
from classifiers.metrics import crossfit_decisions, two_halves
from classifiers.text import normalize_text, text_for_model
from classifiers.training_data import DEFAULT_PLAN, DataSplit, load_head_data, stratified_rows
from schemas import utc_now

__all__ = ["HybridOptions", "train_hybrid"]

log = logging.getLogger(__name__)


_MIN_DEV_ROWS_PER_CLASS = 10


@dataclass(frozen=True, slots=True)
class HybridOptions:
    max_tokens: int = 128  # the embed stage's budget: train as the pipeline embeds
    max_train_rows: int = 12_000  # a 384-feature linear head saturates well before 44k rows
    c_grid: tuple[float, ...] = (0.1, 1.0, 10.0)
    target_precision: float | None = None  # None: the baseline's
    tuned_dir: Path | None = None  # `canhbao train encoder`'s folder: mixed in where it wins


def _inputs(data: LabelledSet) -> list[ClassifierInput]:
    return [
        ClassifierInput(
            f"row{i}",
            normalize_text(text or ""),
            normalize_text(title) if title else None,
            engagement,
        )
        for i, (text, title, engagement) in enumerate(
            zip(data.texts, data.titles, data.engagement, strict=True)
        )
    ]


def _fit_embedding_head(
    x: np.ndarray, y: np.ndarray, x_dev: np.ndarray, y_dev: np.ndarray, opts: HybridOptions
) -> tuple[LinearMap, float]:
    """The head on raw embeddings — standardisation folded in — and the chosen C."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z, z_dev = (x - mean) / scale, (x_dev - mean) / scale
    best: tuple[float, LogisticRegression, float] | None = None
    for c in opts.c_grid:
        model = LogisticRegression(C=c, max_iter=2000).fit(z, y)
        loss = log_loss(y_dev, model.predict_proba(z_dev), labels=model.classes_)
        if best is None or loss < best[0]:
            best = (loss, model, c)
    assert best is not None
    _, model, c = best
    coef = model.coef_ / scale
    intercept = model.intercept_ - (model.coef_ * (mean / scale)).sum(axis=1)
    return LinearMap(coef.astype(np.float32), intercept.astype(np.float32)), c


def _selection_score(spec: HeadSpec, y: np.ndarray, proba: np.ndarray, seed: int) -> float:
    if len(spec.classes) == 2:
        return float(average_precision_score(y, proba[:, 1]))
    decisions = crossfit_decisions(proba, y, seed)
    return float(f1_score(y, decisions, average="macro"))


def _crossfit_mix(features: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    proba = np.zeros((len(y), len(np.unique(y))))
    for fit, score in two_halves(len(y), seed):
        mixer = LogisticRegression(C=1.0, max_iter=1000).fit(features[fit], y[fit])
        proba[score] = mixer.predict_proba(features[score])
    return proba


def _ngram_proba(ngram: BaselineModel, spec: HeadSpec, inputs: list[ClassifierInput]) -> np.ndarray:
    """The n-gram head's probabilities for every row, as `predict` computes them."""
    model_texts = [text_for_model(item.text) for item in inputs]
    if spec.source == "title":  # every row of a headline dataset has its headline
        inputs = [
            ClassifierInput(i.post_id, i.text, i.title or i.text, i.engagement) for i in inputs
        ]
    rows, proba = ngram.head_probabilities(inputs, model_texts, list(range(len(inputs))))[spec.name]
    assert len(rows) == len(inputs)
    return proba


def _train_head(
    spec: HeadSpec,
    ngram: BaselineModel,
    encoder: SentenceEncoder,
    train: LabelledSet,
    dev: LabelledSet,
    seed: int,
    target_precision: float,
    opts: HybridOptions,
    progress: Callable[[str], None],
    tuned: TunedTop | None = None,
) -> tuple[HybridHead, dict[str, Any]]:
    kept = stratified_rows(np.asarray(train.y), opts.max_train_rows, seed)
    train_inputs = _inputs(train)
    dev_inputs = _inputs(dev)
    t0 = time.perf_counter()
    x = encoder.embed([post_passage(train_inputs[i].title, train_inputs[i].text) for i in kept])
    dev_passages = [post_passage(i.title, i.text) for i in dev_inputs]
    tuned = tuned if tuned is not None and spec.name in tuned.slices else None
    if tuned is not None:
        # one pass for both: the tuned layers read its inner states, as they do in the pipeline
        x_dev, dev_states = encoder.embed_with_states(dev_passages, tuned.start)
    else:
        x_dev = encoder.embed(dev_passages)
    seconds = time.perf_counter() - t0
    progress(f"  {spec.name}: embedded {len(kept) + len(dev_inputs)} texts in {seconds:.0f}s")
    y = np.asarray(train.y, dtype=np.int64)[kept]
    y_dev = np.asarray(dev.y, dtype=np.int64)
    embed, c = _fit_embedding_head(x, y, x_dev, y_dev, opts)
    head = HybridHead(spec, {})
    p_ngram = _ngram_proba(ngram, spec, dev_inputs)
    p_embed = embed.proba(x_dev)
    mixes_of = {"hybrid": mix_features(p_ngram, p_embed)}
    probas = {"ngram": p_ngram, "embedding": p_embed}
    if tuned is not None:
        # the tuned layers as they run: on the embed stage's passage and pass (its inner states)
        probas["tuned"] = tuned.proba(tuned.logits(dev_states), spec.name)
        mixes_of["hybrid+tuned"] = mix_features(p_ngram, p_embed, probas["tuned"])
    probas.update({name: _crossfit_mix(f, y_dev, seed) for name, f in mixes_of.items()})
    scores = {name: _selection_score(spec, y_dev, p, seed) for name, p in probas.items()}
    # Each half of dev fits a mixer: every class needs rows in both.
    enough = np.bincount(y_dev, minlength=len(spec.classes)).min() >= _MIN_DEV_ROWS_PER_CLASS
    learner = max(["ngram", *mixes_of], key=lambda name: (scores[name], name == "ngram"))
    if not enough:
        learner = "ngram"
    mixes = learner != "ngram"
    if mixes:
        mixer = LogisticRegression(C=1.0, max_iter=1000).fit(mixes_of[learner], y_dev)
        head.embed = embed
        head.mixer = LinearMap(mixer.coef_.astype(np.float32), mixer.intercept_.astype(np.float32))
        head.tuned = learner == "hybrid+tuned"
    proba = probas[learner]
    thresholds, fields = dev_evaluation(spec, y_dev, proba, target_precision, seed)
    head.thresholds.update(thresholds)
    card = {
        "learner": learner,
        "selection": {
            "metric": "average_precision" if len(spec.classes) == 2 else "crossfit_macro_f1",
            **{k: round(v, 4) for k, v in scores.items()},
        },
        "embedding_C": c,
        **({} if enough else {"not_mixed": "too few dev rows of some class to fit a mixer"}),
        "train_rows_embedded": len(kept),
        "dev_rows": len(y_dev),
        "dev_source": "two-fold cross-fitted mix on dev" if mixes else "n-gram head on dev",
        **fields,
    }
    return head, card


def train_hybrid(
    data_dir: Path,
    baseline_dir: Path,
    encoder_dir: Path,
    out_dir: Path,
    opts: HybridOptions = HybridOptions(),
    plan: dict[str, DataSplit] | None = None,
    progress: Callable[[str], None] = log.info,
) -> HybridModel:
    plan = DEFAULT_PLAN if plan is None else plan
    if not data_dir.is_dir():
        raise DatasetError(f"datasets folder not found: {data_dir}")
    started = time.perf_counter()
    ngram = BaselineModel.load(baseline_dir)
    encoder = SentenceEncoder.load(encoder_dir, max_tokens=opts.max_tokens)
    seed = int(ngram.card.get("seed", 13))
    target = opts.target_precision or float(ngram.card.get("target_precision", 0.6))
    tuned = _usable_tuned(opts.tuned_dir, encoder, seed, progress)
    hashes: dict[str, Any] = {}
    heads, head_cards = [], {}
    specs = [spec for spec in HEADS if spec.name in plan and spec.name in ngram.card["heads"]]
    for i, spec in enumerate(specs, start=1):
        train, dev = load_head_data(spec, plan[spec.name], data_dir, seed, hashes)
        head, card = _train_head(
            spec, ngram, encoder, train, dev, seed, target, opts, progress, tuned
        )
        heads.append(head)
        head_cards[spec.name] = card
        chosen = card["selection"]
        others = ", ".join(f"{k} {v}" for k, v in chosen.items() if k != "metric")
        progress(
            f"[{i}/{len(specs)}] {spec.name}: {card['learner']} ({chosen['metric']}: {others})"
        )
    used = tuned if any(h.tuned for h in heads) else None
    fingerprint = hashlib.sha256(
        json.dumps(
            [ngram.version, encoder.name, hashes, seed, used and used.version], sort_keys=True
        ).encode()
    ).hexdigest()[:10]
    card = {
        "model": MODEL_NAME,
        "version": f"{utc_now():%Y%m%d}-{fingerprint}",
        "created_at": utc_now().isoformat(),
        "baseline": _relative(baseline_dir, out_dir),
        "baseline_version": ngram.version,
        "encoder": _relative(encoder_dir, out_dir),
        "encoder_name": encoder.name,
        "max_tokens": opts.max_tokens,
        **(
            {"tuned": _relative(used.directory, out_dir), "tuned_version": used.version}
            if used is not None
            else {}
        ),
        "seed": seed,
        "target_precision": target,
        "data": hashes,
        "heads": head_cards,
        "training_seconds": round(time.perf_counter() - started, 1),
        "note": (
            "Dev metrics only; a mixing head's dev numbers are cross-fitted on dev. Trained on"
            " research datasets: a build output, never commit it."
        ),
    }
    model = HybridModel(ngram, encoder, heads, card, used)
    model.save(out_dir)
    return model


def _usable_tuned(
    directory: Path | None, encoder: SentenceEncoder, seed: int, progress: Callable[[str], None]
) -> TunedTop | None:
    """The fine-tuned top layers where they can be mixed in honestly: built on this encoder,
    and trained on the same split (its seed), so that no dev row was among their training rows."""
    if directory is None or not (directory / TOP_GRAPH).is_file():
        return None
    tuned = TunedTop.load(directory)
    if tuned.encoder_name != encoder.weights_name:
        progress(f"not mixing {directory}: tuned on {tuned.encoder_name}, not this encoder")
        return None
    if int(tuned.card.get("options", {}).get("seed", -1)) != seed:
        progress(f"not mixing {directory}: its seed is not the baseline's (dev rows would leak)")
        return None
    progress(f"tuned top layers {tuned.version} (above layer {tuned.start}): tried on every head")
    return tuned


def _relative(target: Path, base: Path) -> str:
    import os

    return os.path.relpath(target.resolve(), base.resolve())
