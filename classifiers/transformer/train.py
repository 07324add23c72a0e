"""`canhbao train phobert|encoder`: fine-tune one encoder on every head at once (multi-task).

Each step takes a batch from one head's training data, chosen with probability proportional
to the square root of its size (big datasets do not drown small ones), and backpropagates that
head's cross-entropy through the shared encoder. Training reads the first window of each text;
dev is scored the way production scores (windows, pooling), then each head gets a temperature
(calibration) and thresholds for the target precision, both from dev. Same data plan, seeds
and card fields as the baseline, so the two models are compared on the same rows.

On a CPU the whole stack is slow to train (multilingual-e5-small: ~3 samples/s here), so
`trainable_layers` can keep the lower layers frozen: their output is computed once per text and
cached (float16), and each step runs only the top layers and the heads. Training writes a
checkpoint every `checkpoint_every` steps; a rerun with the same options and data resumes it.
Where torch sees a CUDA GPU (`device="auto"`), the whole encoder trains in minutes instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifiers.baseline.spans import train_span_model
from classifiers.calibration import fit_temperature
from classifiers.dev_report import dev_evaluation
from classifiers.encoder.convert import CARD_FILE as ENCODER_CARD
from classifiers.encoder.runtime import encoder_name
from classifiers.exceptions import ClassifierError, DatasetError
from classifiers.heads import HEADS, HeadSpec
from classifiers.text.segment import make_segmenter
from classifiers.training_data import (
    DEFAULT_PLAN,
    DataSplit,
    head_model_texts,
    load_head_data,
    stratified_rows,
)
from classifiers.transformer.backends import TorchBackend
from classifiers.transformer.batching import pad, token_budget_batches
from classifiers.transformer.model import (
    CARD_FILE,
    MODEL_NAME,
    TOKENIZER_DIR,
    TransformerClassifier,
    load_tokenizer,
)
from classifiers.transformer.network import ENCODER_DIR, MultiHeadEncoder, TokenPooling
from schemas import utc_now

__all__ = ["TransformerTrainingOptions", "e5_options", "train_transformer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TransformerTrainingOptions:
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
    segmenter: str = "pyvi"  # "whitespace" for SentencePiece encoders (no segmentation)
    pooling: TokenPooling = "cls"
    prefix: str = ""  # e5 reads "passage: " before every text
    trainable_layers: int | None = None  # None: all; k: the top k, the rest frozen and cached
    head_learning_rate: float | None = None  # None: learning_rate
    max_train_rows: int | None = None  # per head, stratified; None: all
    checkpoint_every: int = 200
    spans: bool = True  # also train the ViHOS span model (evidence), if ViHOS is there
    # "auto": a CUDA GPU where torch sees one (bf16 autocast in training), else the CPU
    device: str = "auto"


def e5_options(base: str, **overrides: Any) -> TransformerTrainingOptions:
    """multilingual-e5-small (`canhbao models build-encoder`) fine-tuned on its top two layers:
    mean pooling and the "passage: " prefix as e5 was trained, no word segmentation
    (SentencePiece reads syllables), 128-token windows. About 80 samples/s here."""
    fields: dict[str, Any] = {
        "base": base,
        "segmenter": "whitespace",
        "pooling": "mean",
        "prefix": "passage: ",
        "max_length": 128,
        "overlap": 32,
        "max_windows": 4,
        "trainable_layers": 2,
        "learning_rate": 5e-5,
        "head_learning_rate": 1e-3,
        "batch_size": 32,
        "epochs": 2.0,
        "max_train_rows": 8_000,
        **overrides,
    }
    return TransformerTrainingOptions(**fields)


@dataclass
class _HeadData:
    spec: HeadSpec
    train_rows: list[list[int]]  # what the network reads: specials, prefix, first window
    train_y: np.ndarray
    dev_texts: list[str]
    dev_y: np.ndarray
    states: list[torch.Tensor] | None = None  # per row, the frozen layers' output (float16)


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


def train_transformer(
    data_dir: Path,
    out_dir: Path,
    opts: TransformerTrainingOptions = TransformerTrainingOptions(),
    plan: dict[str, DataSplit] | None = None,
    progress: Callable[[str], None] = log.info,
) -> TransformerClassifier:
    plan = DEFAULT_PLAN if plan is None else plan
    if not data_dir.is_dir():
        raise DatasetError(f"datasets folder not found: {data_dir}")
    started = time.perf_counter()
    torch.manual_seed(opts.seed)
    specs = [spec for spec in HEADS if spec.name in plan]
    tokenizer_ref, encoder_ref = _base_parts(opts.base)
    try:
        tokenizer = load_tokenizer(tokenizer_ref)
        network = MultiHeadEncoder.from_base(encoder_ref, specs, opts.pooling)
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"cannot load the base model {opts.base!r}: {exc}") from exc
    positions = int(network.encoder.config.max_position_embeddings)
    if opts.max_length > positions:
        raise ClassifierError(f"max_length {opts.max_length}: {opts.base} reads {positions}")
    depth = len(network.layers)
    trainable = depth if opts.trainable_layers is None else opts.trainable_layers
    if not 1 <= trainable <= depth:
        raise ClassifierError(f"trainable_layers must be 1…{depth} for this encoder")
    frozen = depth - trainable
    network.freeze_below(frozen)
    device = training_device(opts.device)
    network.to(device)
    progress(f"training on {device}")
    segmenter = make_segmenter(opts.segmenter)
    card: dict[str, Any] = {
        "model": MODEL_NAME,
        "base": opts.base,
        "max_length": opts.max_length,
        "overlap": opts.overlap,
        "max_windows": opts.max_windows,
        "segmenter": opts.segmenter,
        "pooling": opts.pooling,
        "prefix": opts.prefix,
        "frozen_layers": frozen,
        "heads": {spec.name: {"thresholds": {}} for spec in specs},
    }
    if (Path(encoder_ref) / ENCODER_CARD).is_file():  # a built encoder: whose weights these are
        card["encoder_name"] = encoder_name(Path(encoder_ref))
    classifier = TransformerClassifier(card, tokenizer, segmenter, TorchBackend(network))
    if device.type == "cuda":  # dev scoring: batches sized for a GPU, not for two cores
        classifier.max_batch, classifier.max_tokens = 256, 65_536
    if not 0 <= opts.overlap < classifier.window_body:  # found before training, not after
        raise ClassifierError(
            f"max_length {opts.max_length} leaves {classifier.window_body} tokens per window:"
            f" too few for an overlap of {opts.overlap}"
        )

    hashes: dict[str, Any] = {}
    heads: list[_HeadData] = []
    for spec in specs:
        train, dev = load_head_data(spec, plan[spec.name], data_dir, opts.seed, hashes)
        keep = stratified_rows(np.asarray(train.y, dtype=np.int64), opts.max_train_rows, opts.seed)
        texts = head_model_texts(train, spec)
        encoded = classifier.encode([texts[i] for i in keep])
        heads.append(
            _HeadData(
                spec,
                classifier.model_rows([ids[: classifier.window_body] for ids in encoded]),
                np.asarray(train.y, dtype=np.int64)[keep],
                head_model_texts(dev, spec),
                np.asarray(dev.y, dtype=np.int64),
            )
        )
        progress(f"loaded {spec.name}: train {len(keep)} of {len(train)} rows, dev {len(dev)}")

    if frozen:
        for data in heads:
            data.states = _frozen_states(network, data, frozen, classifier.tokenizer.pad_token_id)
            progress(f"cached layer-{frozen} states of {data.spec.name}")
    total_rows = sum(len(h.train_y) for h in heads)
    steps = opts.max_steps or max(1, math.ceil(opts.epochs * total_rows / opts.batch_size))
    options = {**asdict(opts), "device": device.type}
    run_id = hashlib.sha256(json.dumps([hashes, options], sort_keys=True).encode()).hexdigest()[:16]
    _fine_tune(network, heads, classifier, steps, opts, run_id, out_dir, progress)

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
    card.update(
        {
            "version": f"{utc_now():%Y%m%d}-{run_id[:10]}",
            "created_at": utc_now().isoformat(),
            "options": options,
            "data": hashes,
            "training_steps": steps,
            "training_seconds": round(time.perf_counter() - started, 1),
            "note": "Dev metrics only. Trained on research datasets: a build output, never"
            " commit it. Licence follows the base model's.",
        }
    )
    network.to("cpu")  # the classifier handed back serves (and exports) on the CPU
    _save(classifier, network, out_dir)
    return classifier


def training_device(name: str) -> torch.device:
    """`cpu`, `cuda` (an error if torch sees no GPU) or `auto` (the GPU where there is one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ClassifierError(f"unknown training device {name!r}: cpu, cuda or auto")
    if name == "cuda" and not torch.cuda.is_available():
        raise ClassifierError("device cuda: torch sees no CUDA GPU here")
    return torch.device(name)


def _autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 matrix products on a GPU (its tensor cores); plain fp32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _base_parts(base: str) -> tuple[str, str]:
    """Tokenizer and encoder of `base`: a hub id or a Hugging Face folder (both at its root),
    or a canhbao PhoBERT folder (continue from an earlier fine-tuning, or a scaffold)."""
    root = Path(base)
    if (root / CARD_FILE).is_file():
        return str(root / TOKENIZER_DIR), str(root / ENCODER_DIR)
    return base, base


def _frozen_states(
    network: MultiHeadEncoder, data: _HeadData, layers: int, pad_id: int
) -> list[torch.Tensor]:
    """Each training row's hidden states after the frozen layers, unpadded, float16 (half the
    memory; the top layers read them back as float32). Frozen and in eval mode, the lower
    layers give the same states every epoch, so they are computed once."""
    states: list[torch.Tensor] = [torch.empty(0)] * len(data.train_rows)
    network.eval()
    device = network.device
    lengths = [len(r) for r in data.train_rows]
    with torch.inference_mode():
        for group in token_budget_batches(lengths, 64, 4096):
            ids, mask = pad([data.train_rows[i] for i in group], pad_id)
            hidden = network.lower_states(
                torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device), layers
            )
            for row, i in enumerate(group):
                states[i] = hidden[row, : lengths[i]].to(torch.float16).cpu().clone()
    return states


def _padded_states(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(s.shape[0] for s in states)
    x = torch.zeros((len(states), width, states[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for i, s in enumerate(states):
        x[i, : s.shape[0]] = s.float()
        mask[i, : s.shape[0]] = 1
    return x, mask


def _optimizer(
    network: MultiHeadEncoder, opts: TransformerTrainingOptions
) -> torch.optim.Optimizer:
    plain = ("bias", "LayerNorm.weight")  # no weight decay on biases and layer norms
    head_lr = opts.head_learning_rate or opts.learning_rate
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in network.named_parameters():
        if parameter.requires_grad:
            key = (name.startswith("heads."), name.endswith(plain))
            groups.setdefault(key, []).append(parameter)
    return torch.optim.AdamW(
        [
            {
                "params": params,
                "lr": head_lr if is_head else opts.learning_rate,
                "weight_decay": 0.0 if is_plain else opts.weight_decay,
            }
            for (is_head, is_plain), params in sorted(groups.items())
        ]
    )


def _fine_tune(
    network: MultiHeadEncoder,
    heads: list[_HeadData],
    classifier: TransformerClassifier,
    steps: int,
    opts: TransformerTrainingOptions,
    run_id: str,
    out_dir: Path,
    progress: Callable[[str], None],
) -> None:
    from transformers import get_linear_schedule_with_warmup

    optimizer = _optimizer(network, opts)
    warmup = int(opts.warmup_fraction * steps)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, steps)  # type: ignore[no-untyped-call]
    pad_id = classifier.tokenizer.pad_token_id
    frozen = int(classifier.card["frozen_layers"])
    trainable = [p for p in network.parameters() if p.requires_grad]
    loss_fn = torch.nn.CrossEntropyLoss()
    device = network.device
    batches = _sampler(heads, opts.batch_size, opts.seed)
    checkpoint = _Checkpoint(out_dir / CHECKPOINT_FILE, run_id)
    done = checkpoint.restore(network, optimizer, schedule)
    if done:
        progress(f"resuming from step {done} ({checkpoint.path})")
        for _ in range(done):  # the sampler is seeded: replaying it puts it where it was
            next(batches)
    network.train()
    running, ran, t0 = 0.0, 0, time.perf_counter()
    every = max(1, steps // 20)
    for step in range(done + 1, steps + 1):
        k, rows = next(batches)
        data = heads[k]
        with _autocast(device):
            if data.states is not None:
                x, mask = _padded_states([data.states[r] for r in rows])
                logits = network.forward_top(x.to(device), mask.to(device), frozen)
            else:
                ids, mask_np = pad([data.train_rows[r] for r in rows], pad_id)
                logits = network(
                    torch.from_numpy(ids).to(device), torch.from_numpy(mask_np).to(device)
                )
        logits = logits[:, classifier.head_slice(data.spec.name)].float()
        loss = loss_fn(logits, torch.from_numpy(data.train_y[rows]).to(device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        running, ran = running + float(loss.detach()), ran + 1
        if step % every == 0 or step == steps:
            rate = (step - done) / (time.perf_counter() - t0)
            progress(
                f"step {step}/{steps} loss {running / ran:.4f} ({rate:.2f} steps/s,"
                f" ~{(steps - step) / rate / 60:.0f} min left)"
            )
            running, ran = 0.0, 0
        if step % opts.checkpoint_every == 0 and step < steps:
            checkpoint.save(step, network, optimizer, schedule)
    checkpoint.path.unlink(missing_ok=True)


CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class _Checkpoint:
    """The trainable weights, optimiser and schedule after a step, tagged with the run (options
    and data hashes), so a rerun of the same training continues and any other starts afresh."""

    path: Path
    run_id: str

    def save(self, step: int, network: MultiHeadEncoder, optimizer: Any, schedule: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        trainable = {n for n, p in network.named_parameters() if p.requires_grad}
        state = {
            "run_id": self.run_id,
            "step": step,
            "weights": {n: t for n, t in network.state_dict().items() if n in trainable},
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(self.path)  # a kill mid-write leaves the previous checkpoint whole

    def restore(self, network: MultiHeadEncoder, optimizer: Any, schedule: Any) -> int:
        """The step restored; 0 when there is no checkpoint of this run."""
        if not self.path.is_file():
            return 0
        state = torch.load(self.path, weights_only=True)
        if state.get("run_id") != self.run_id:
            return 0
        network.load_state_dict(state["weights"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return int(state["step"])


def _save(classifier: TransformerClassifier, network: MultiHeadEncoder, out_dir: Path) -> None:
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
