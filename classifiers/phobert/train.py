"""`canhbao train phobert`: fine-tune one PhoBERT encoder on every head at once (multi-task).

Each step takes a batch from one head's training data, chosen with probability proportional
to the square root of its size (big datasets do not drown small ones), and backpropagates that
head's cross-entropy through the shared encoder. Training reads the first window of each text;
dev is scored the way production scores (windows, pooling), then each head gets a temperature
(calibration) and thresholds for the target precision, both from dev. Same data plan, seeds
and card fields as the baseline, so the two models are compared on the same rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifiers.baseline.spans import train_span_model
from classifiers.calibration import fit_temperature
from classifiers.dev_report import dev_evaluation
from classifiers.exceptions import ClassifierError, DatasetError
from classifiers.heads import HEADS, HeadSpec
from classifiers.phobert.backends import TorchBackend
from classifiers.phobert.batching import pad
from classifiers.phobert.model import (
    CARD_FILE,
    MODEL_NAME,
    TOKENIZER_DIR,
    PhobertClassifier,
    load_tokenizer,
)
from classifiers.phobert.network import ENCODER_DIR, MultiHeadPhobert
from classifiers.text.segment import make_segmenter
from classifiers.training_data import DEFAULT_PLAN, DataSplit, head_model_texts, load_head_data
from schemas import utc_now

__all__ = ["PhobertTrainingOptions", "train_phobert"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PhobertTrainingOptions:
    base: str = "vinai/phobert-base"  # MIT; vinai/phobert-base-v2 is AGPL-3.0
    seed: int = 13
    epochs: float = 2.0
    max_steps: int | None = None  # overrides epochs (smoke runs, tests)
    batch_size: int = 16
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    max_length: int = 256
    overlap: int = 64
    max_windows: int = 8
    target_precision: float = 0.6
    segmenter: str = "pyvi"
    spans: bool = True  # also train the ViHOS span model (evidence), if ViHOS is there


@dataclass
class _HeadData:
    spec: HeadSpec
    train_ids: list[list[int]]
    train_y: np.ndarray
    dev_texts: list[str]
    dev_y: np.ndarray


def _sampler(
    heads: list[_HeadData], batch_size: int, seed: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Endless (head index, row indices) batches: heads drawn ∝ sqrt(size), rows reshuffled
    per head each time its data is used up."""
    rng = np.random.default_rng(seed)
    sizes = np.array([len(h.train_y) for h in heads], dtype=np.float64)
    weights = np.sqrt(sizes) / np.sqrt(sizes).sum()
    orders = [rng.permutation(len(h.train_y)) for h in heads]
    cursors = [0] * len(heads)
    while True:
        k = int(rng.choice(len(heads), p=weights))
        if cursors[k] + batch_size > len(orders[k]):
            orders[k], cursors[k] = rng.permutation(len(heads[k].train_y)), 0
        rows = orders[k][cursors[k] : cursors[k] + batch_size]
        cursors[k] += batch_size
        yield k, rows


def train_phobert(
    data_dir: Path,
    out_dir: Path,
    opts: PhobertTrainingOptions = PhobertTrainingOptions(),
    plan: dict[str, DataSplit] | None = None,
    progress: Callable[[str], None] = log.info,
) -> PhobertClassifier:
    plan = DEFAULT_PLAN if plan is None else plan
    if not data_dir.is_dir():
        raise DatasetError(f"datasets folder not found: {data_dir}")
    started = time.perf_counter()
    torch.manual_seed(opts.seed)
    specs = [spec for spec in HEADS if spec.name in plan]
    tokenizer_ref, encoder_ref = _base_parts(opts.base)
    try:
        tokenizer = load_tokenizer(tokenizer_ref)
        network = MultiHeadPhobert.from_base(encoder_ref, specs)
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"cannot load the base model {opts.base!r}: {exc}") from exc
    segmenter = make_segmenter(opts.segmenter)
    card: dict[str, Any] = {
        "model": MODEL_NAME,
        "base": opts.base,
        "max_length": opts.max_length,
        "overlap": opts.overlap,
        "max_windows": opts.max_windows,
        "segmenter": opts.segmenter,
        "heads": {spec.name: {"thresholds": {}} for spec in specs},
    }
    classifier = PhobertClassifier(card, tokenizer, segmenter, TorchBackend(network))

    hashes: dict[str, Any] = {}
    heads: list[_HeadData] = []
    for spec in specs:
        train, dev = load_head_data(spec, plan[spec.name], data_dir, opts.seed, hashes)
        train_ids = [
            ids[: opts.max_length - 2] for ids in classifier.encode(head_model_texts(train, spec))
        ]
        heads.append(
            _HeadData(
                spec,
                train_ids,
                np.asarray(train.y, dtype=np.int64),
                head_model_texts(dev, spec),
                np.asarray(dev.y, dtype=np.int64),
            )
        )
        progress(f"loaded {spec.name}: train {len(train)} rows, dev {len(dev)} rows")

    total_rows = sum(len(h.train_y) for h in heads)
    steps = opts.max_steps or max(1, math.ceil(opts.epochs * total_rows / opts.batch_size))
    _fine_tune(network, heads, classifier, steps, opts, progress)

    network.eval()
    for spec, data in zip(specs, heads, strict=True):
        pooled = classifier.pooled_logits(data.dev_texts, [spec])[spec.name]
        temperature = fit_temperature(pooled, data.dev_y)
        card["heads"][spec.name]["temperature"] = round(temperature, 4)
        proba = classifier.probabilities(pooled, spec.name)
        _, dev_fields = dev_evaluation(spec, data.dev_y, proba, opts.target_precision, opts.seed)
        head_card: dict[str, Any] = {
            "classes": list(spec.classes),
            "labels": {label.value: i for label, i in spec.labels.items()},
            "source": spec.source,
            "temperature": round(temperature, 4),
            "train_rows": len(data.train_y),
            "dev_rows": len(data.dev_y),
            **dev_fields,
        }
        card["heads"][spec.name] = head_card
        progress(
            f"{spec.name}: dev macro-F1 {head_card['dev']['macro_f1']:.4f}"
            f" temperature {temperature:.3f}"
        )

    if opts.spans and (data_dir / "vihos" / "train.csv").is_file():
        progress("span model: ViHOS")
        classifier.spans = train_span_model(data_dir / "vihos", seed=opts.seed)
        hashes.update({f"vihos/{n}": m for n, m in classifier.spans.card["data"].items()})
    options = asdict(opts)
    fingerprint = hashlib.sha256(
        json.dumps([hashes, options], sort_keys=True).encode()
    ).hexdigest()[:10]
    card.update(
        {
            "version": f"{utc_now():%Y%m%d}-{fingerprint}",
            "created_at": utc_now().isoformat(),
            "options": options,
            "data": hashes,
            "training_steps": steps,
            "training_seconds": round(time.perf_counter() - started, 1),
            "note": "Dev metrics only. Trained on research datasets: a build output, never"
            " commit it. Licence follows the base model's.",
        }
    )
    _save(classifier, network, out_dir)
    return classifier


def _base_parts(base: str) -> tuple[str, str]:
    """Tokenizer and encoder of `base`: a hub id or a Hugging Face folder (both at its root),
    or a canhbao PhoBERT folder (continue from an earlier fine-tuning, or a scaffold)."""
    root = Path(base)
    if (root / CARD_FILE).is_file():
        return str(root / TOKENIZER_DIR), str(root / ENCODER_DIR)
    return base, base


def _fine_tune(
    network: MultiHeadPhobert,
    heads: list[_HeadData],
    classifier: PhobertClassifier,
    steps: int,
    opts: PhobertTrainingOptions,
    progress: Callable[[str], None],
) -> None:
    from transformers import get_linear_schedule_with_warmup

    named = list(network.named_parameters())
    plain = {"bias", "LayerNorm.weight"}  # no weight decay on biases and layer norms
    decay = [p for n, p in named if not any(n.endswith(x) for x in plain)]
    no_decay = [p for n, p in named if any(n.endswith(x) for x in plain)]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": opts.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=opts.learning_rate,
    )
    warmup = int(opts.warmup_fraction * steps)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, steps)  # type: ignore[no-untyped-call]
    tok = classifier.tokenizer
    loss_fn = torch.nn.CrossEntropyLoss()
    network.train()
    batches = _sampler(heads, opts.batch_size, opts.seed)
    running, t0 = 0.0, time.perf_counter()
    every = max(1, steps // 20)
    for step in range(1, steps + 1):
        k, rows = next(batches)
        data = heads[k]
        ids, mask = pad(
            [[tok.bos_token_id, *data.train_ids[r], tok.eos_token_id] for r in rows],
            tok.pad_token_id,
        )
        logits = network(torch.from_numpy(ids), torch.from_numpy(mask))
        logits = logits[:, classifier.head_slice(data.spec.name)]
        loss = loss_fn(logits, torch.from_numpy(data.train_y[rows]))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        running += float(loss.detach())
        if step % every == 0 or step == steps:
            rate = step / (time.perf_counter() - t0)
            progress(
                f"step {step}/{steps} loss {running / every:.4f} ({rate:.2f} steps/s,"
                f" ~{(steps - step) / rate / 60:.0f} min left)"
            )
            running = 0.0


def _save(classifier: PhobertClassifier, network: MultiHeadPhobert, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    network.save(out_dir)
    classifier.tokenizer.save_pretrained(str(out_dir / TOKENIZER_DIR))
    for stale in ("model.onnx", "model.int8.onnx"):  # exports of an earlier training
        (out_dir / stale).unlink(missing_ok=True)
    if classifier.spans is not None:
        classifier.spans.save(out_dir)
    (out_dir / CARD_FILE).write_text(
        json.dumps(classifier.card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
