"""`TransformerClassifier`: the PhoBERT path behind the same `Classifier` interface as the baseline.

Text goes through the shared screening and normalisation, is word-segmented (PhoBERT was
pre-trained on segmented text), tokenised, cut into windows, batched by length within a token
budget and run on the chosen backend; window logits are pooled per post and head, divided by
the head's fitted temperature and turned into probabilities; labels are decided against the
dev-chosen thresholds. A model folder holds `phobert.json` (the card), `tokenizer/`, `encoder/`,
`heads.safetensors`, optionally `model.onnx`/`model.int8.onnx` and the ViHOS span model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from classifiers.base import ClassifierInput
from classifiers.baseline.features import MAX_MODEL_CHARS
from classifiers.baseline.spans import SpanModel, span_evidence
from classifiers.calibration import softmax
from classifiers.exceptions import ClassifierError, ModelNotFoundError
from classifiers.heads import HEADS, HeadSpec
from classifiers.scoring import ScoringModel, record_scores
from classifiers.text import text_for_model
from classifiers.text.segment import Segmenter, make_segmenter
from classifiers.transformer.backends import BACKENDS, Backend, OnnxBackend, onnx_file
from classifiers.transformer.batching import pad, token_budget_batches
from classifiers.transformer.windows import Pooling, pool, split_windows
from schemas import Evidence, Label

if TYPE_CHECKING:
    from classifiers.transformer.network import TokenPooling

__all__ = [
    "CARD_FILE",
    "HEADS_BY_NAME",
    "MODEL_NAME",
    "POOLING",
    "TransformerClassifier",
    "card_pooling",
    "card_specs",
    "load_tokenizer",
    "read_card",
    "resolve_model_dir",
]

MODEL_NAME = "canhbao-transformer"
CARD_FILE = "transformer.json"
TOKENIZER_DIR = "tokenizer"
# Offence anywhere is offence; reliability and clickbait are properties of the whole text.
POOLING: dict[str, Pooling] = {
    "hostile": "max",
    "toxic": "max",
    "spam": "max",
    "misinformation": "mean",
    "clickbait": "mean",
}
HEADS_BY_NAME = {spec.name: spec for spec in HEADS}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_model_dir(ref: str | Path) -> Path:
    """A local model folder as is; otherwise a hub id fetched (or found in the local cache) by
    `huggingface_hub`, which honours `HF_HUB_OFFLINE`."""
    path = Path(ref)
    if path.is_dir():
        return path
    if _HUB_ID.match(str(ref)) and not path.exists():
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(str(ref)))
        except Exception as exc:  # offline, unknown repo, no credentials: all say the same
            raise ModelNotFoundError(
                f"transformer model {ref!r}: not a local folder, and not obtainable from the hub"
                f" ({type(exc).__name__}: {exc})"
            ) from exc
    raise ModelNotFoundError(
        f"no transformer model at {ref}: train one with `canhbao train phobert --out {ref}`"
        f" or `canhbao train encoder --out {ref}`"
    )


def read_card(directory: Path) -> dict[str, Any]:
    path = directory / CARD_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{directory} has no {CARD_FILE}: not a canhbao transformer model")
    try:
        card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        unknown = [name for name in card["heads"] if name not in HEADS_BY_NAME]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClassifierError(f"unreadable model card {path}: {exc}") from exc
    if unknown:
        raise ClassifierError(f"{path}: unknown head(s) {unknown}")
    return card


def card_specs(card: dict[str, Any]) -> list[HeadSpec]:
    return [HEADS_BY_NAME[name] for name in card["heads"]]


def card_pooling(card: dict[str, Any]) -> TokenPooling:
    """How the heads read the encoder's output: PhoBERT cards written before pooling was a
    field are `cls`."""
    pooling = card.get("pooling", "cls")
    if pooling not in ("cls", "mean"):
        raise ClassifierError(f"unknown token pooling {pooling!r} in the model card")
    return cast("TokenPooling", pooling)


def load_tokenizer(path: str | Path) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ClassifierError(
            "the transformer path needs the `transformer` extra: pip install 'canhbao[transformer]'"
        ) from exc
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.model_max_length = 10**9  # windows do the truncation; no length warnings
    return tokenizer


class TransformerClassifier(ScoringModel):
    def __init__(
        self,
        card: dict[str, Any],
        tokenizer: Any,
        segmenter: Segmenter,
        backend: Backend,
        spans: SpanModel | None = None,
        max_batch: int = 16,
        max_tokens: int = 512,
    ) -> None:
        self.card = card
        self.tokenizer = tokenizer
        self.segmenter = segmenter
        self.backend = backend
        self.spans = spans
        self.max_batch = max_batch
        self.max_tokens = max_tokens
        self.specs: list[HeadSpec] = card_specs(card)
        # Tokenised apart from the text, as it is in every window; without its trailing space,
        # which SentencePiece would make a token of its own ("passage: x" is "▁passage", ":",
        # "▁x" in one piece or two).
        prefix = str(card.get("prefix") or "").strip()
        self._prefix: list[int] = (
            tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
        )
        self._slices: dict[str, slice] = {}
        start = 0
        for spec in self.specs:
            self._slices[spec.name] = slice(start, start + len(spec.classes))
            start += len(spec.classes)

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def version(self) -> str:
        return f"{self.card.get('version', 'unversioned')}+{self.backend.name}"

    @property
    def thresholds(self) -> dict[Label, float]:
        return {
            Label(label): float(t)
            for head in self.card["heads"].values()
            for label, t in head["thresholds"].items()
        }

    def head_slice(self, head: str) -> slice:
        """Where a head's logits are in the network's output row."""
        return self._slices[head]

    # loading ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls, ref: str | Path, backend: str = "torch", threads: int | None = None
    ) -> TransformerClassifier:
        if backend not in BACKENDS:
            raise ClassifierError(f"unknown transformer backend {backend!r}: one of {BACKENDS}")
        directory = resolve_model_dir(ref)
        card = read_card(directory)
        card_pooling(card)  # a bad card fails here, whichever backend
        runner: Backend
        if backend.startswith("onnx"):
            runner = OnnxBackend(onnx_file(directory, backend), backend, threads)
        else:
            runner = _torch_backend(directory, card, backend, threads)
        return cls(
            card,
            load_tokenizer(directory / TOKENIZER_DIR),
            make_segmenter(card.get("segmenter", "pyvi")),
            runner,
            SpanModel.load(directory),
        )

    # scoring ------------------------------------------------------------------------------

    def encode(self, model_texts: Sequence[str]) -> list[list[int]]:
        """Token ids (no special tokens, no prefix) of (word-segmented) model texts."""
        if not model_texts:
            return []
        segmented = [self.segmenter.segment(t[:MAX_MODEL_CHARS]) for t in model_texts]
        ids: list[list[int]] = self.tokenizer(segmented, add_special_tokens=False)["input_ids"]
        return ids

    @property
    def window_body(self) -> int:
        """Content tokens per window: the card's length less `<s>`, `</s>` and the prefix."""
        return int(self.card["max_length"]) - 2 - len(self._prefix)

    def model_rows(self, windows: Sequence[Sequence[int]]) -> list[list[int]]:
        """What the network reads for each window: `<s>`, the prefix, the window, `</s>`."""
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        return [[bos, *self._prefix, *w, eos] for w in windows]

    def window_logits(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits of every head for each window (special tokens added here), length-bucketed."""
        rows = self.model_rows(windows)
        total = sum(len(spec.classes) for spec in self.specs)
        out = np.zeros((len(rows), total), dtype=np.float32)
        for group in token_budget_batches([len(r) for r in rows], self.max_batch, self.max_tokens):
            ids, mask = pad([rows[i] for i in group], self.tokenizer.pad_token_id)
            out[group] = self.backend.logits(ids, mask)
        return out

    def windows(
        self, model_texts: Sequence[str], multi_window: bool = True
    ) -> list[tuple[int, list[int]]]:
        """(text index, token ids) of every window; one window per text unless it is long."""
        body = self.window_body
        out: list[tuple[int, list[int]]] = []
        for i, ids in enumerate(self.encode(model_texts)):
            parts = (
                split_windows(ids, body, int(self.card["overlap"]), int(self.card["max_windows"]))
                if multi_window
                else [ids[:body]]
            )
            out.extend((i, part) for part in parts)
        return out

    def pooled_logits(
        self, model_texts: Sequence[str], specs: Sequence[HeadSpec], multi_window: bool = True
    ) -> dict[str, np.ndarray]:
        """Per head in `specs`: one row of pooled logits per text (before temperature)."""
        windows = self.windows(model_texts, multi_window)
        logits = self.window_logits([ids for _, ids in windows])
        owners = np.asarray([owner for owner, _ in windows], dtype=np.int64)
        return {
            spec.name: pool(
                logits[:, self.head_slice(spec.name)],
                owners,
                len(model_texts),
                POOLING.get(spec.name, "mean"),
            )
            for spec in specs
        }

    def probabilities(self, pooled: np.ndarray, head: str) -> np.ndarray:
        return softmax(pooled, float(self.card["heads"][head].get("temperature", 1.0)))

    def _score(
        self,
        batch: Sequence[ClassifierInput],
        model_texts: list[str],
        live: list[int],
        scores: list[dict[Label, float]],
    ) -> None:
        text_specs = [s for s in self.specs if s.source == "text"]
        title_specs = [s for s in self.specs if s.source == "title"]
        pooled = self.pooled_logits([model_texts[i] for i in live], text_specs)
        for spec in text_specs:
            proba = self.probabilities(pooled[spec.name], spec.name)
            record_scores(spec, live, proba, batch, scores)
        titled = [i for i in live if batch[i].title]
        if title_specs and titled:
            titles = [text_for_model(batch[i].title or "") for i in titled]
            pooled = self.pooled_logits(titles, title_specs, multi_window=False)
            for spec in title_specs:
                proba = self.probabilities(pooled[spec.name], spec.name)
                record_scores(spec, titled, proba, batch, scores)

    def _evidence(self, text: str, model_text: str, labels: list[Label]) -> list[Evidence]:
        return span_evidence(self.spans, text, labels)


def _torch_backend(
    directory: Path, card: dict[str, Any], backend: str, threads: int | None
) -> Backend:
    try:
        import torch

        from classifiers.transformer.backends import TorchBackend, torch_int8
        from classifiers.transformer.network import MultiHeadEncoder
    except ImportError as exc:
        raise ClassifierError(
            f"the {backend!r} backend needs the `transformer` extra:"
            " pip install 'canhbao[transformer]' (or export the model and use an ONNX backend)"
        ) from exc
    if threads:
        torch.set_num_threads(threads)
    try:
        network = MultiHeadEncoder.load(directory, card_specs(card), card_pooling(card))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ClassifierError(f"cannot load transformer weights from {directory}: {exc}") from exc
    return torch_int8(network) if backend == "int8" else TorchBackend(network)
