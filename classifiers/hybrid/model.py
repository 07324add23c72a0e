"""The hybrid model: load, save, predict.

A folder holds `hybrid.json` (the card: which baseline and encoder it was trained with, and per
head whether it mixes in the embedding) and `hybrid.npz` (the embedding heads and the mixers).
The baseline and the encoder stay in their own folders; loading checks that they are the ones
the card names, since a mixer's weights mean nothing on top of another model's scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.base import ClassifierInput
from classifiers.baseline import BaselineModel
from classifiers.calibration import class_probabilities
from classifiers.embedding import post_passage
from classifiers.encoder.runtime import Backend, SentenceEncoder
from classifiers.exceptions import ClassifierError, ModelFormatError, ModelNotFoundError
from classifiers.heads import HEADS, HeadSpec
from classifiers.hybrid.tuned import TunedTop
from classifiers.scoring import ScoringModel, record_scores
from schemas import Evidence, Label

__all__ = ["HYBRID_CARD", "MODEL_NAME", "HybridHead", "HybridModel", "LinearMap", "mix_features"]

MODEL_NAME = "canhbao-hybrid"
HYBRID_CARD = "hybrid.json"
WEIGHTS_FILE = "hybrid.npz"


def mix_features(*probas: np.ndarray) -> np.ndarray:
    """What a mixer reads: each model's log-odds (binary) or log-probabilities (k classes),
    in a fixed order: n-gram, embedding, tuned top layers (where mixed in)."""
    logp = [np.log(np.clip(p, 1e-7, 1.0)) for p in probas]
    if probas[0].shape[1] == 2:
        return np.column_stack([lp[:, 1] - lp[:, 0] for lp in logp])
    return np.hstack(logp)


@dataclass(frozen=True)
class LinearMap:
    coef: np.ndarray  # (k, n_inputs); k = 1 for a binary head
    intercept: np.ndarray  # (k,)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return class_probabilities(x @ self.coef.T + self.intercept)


@dataclass
class HybridHead:
    """One head's embedding model and mixer; `mixer` None: the n-gram head alone won on dev."""

    spec: HeadSpec
    thresholds: dict[Label, float]
    embed: LinearMap | None = None  # embedding → class probabilities
    mixer: LinearMap | None = None  # (n-gram, embedding[, tuned]) log-odds → probabilities
    tuned: bool = False  # the mixer reads the fine-tuned top layers' probabilities too

    def mix(
        self, ngram: np.ndarray, vectors: np.ndarray, tuned: np.ndarray | None = None
    ) -> np.ndarray:
        assert self.embed is not None
        assert self.mixer is not None
        inputs = [ngram, self.embed.proba(vectors)]
        if self.tuned:
            assert tuned is not None
            inputs.append(tuned)
        return self.mixer.proba(mix_features(*inputs))


class HybridModel(ScoringModel):
    def __init__(
        self,
        ngram: BaselineModel,
        encoder: SentenceEncoder,
        heads: Sequence[HybridHead],
        card: dict[str, Any],
        tuned: TunedTop | None = None,
    ) -> None:
        self.ngram = ngram
        self.encoder = encoder  # also the pipeline's embedder: one pass per post
        self.heads = {head.spec.name: head for head in heads}
        self.card = card
        self.tuned = tuned if any(h.tuned for h in heads) else None
        if self.tuned is not None:  # the embed stage's pass keeps the states the top reads
            encoder.tap_layer = self.tuned.start

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def thresholds(self) -> dict[Label, float]:
        return {label: t for head in self.heads.values() for label, t in head.thresholds.items()}

    # persistence --------------------------------------------------------------------------

    @classmethod
    def load(
        cls, directory: Path, backend: Backend = "onnx-int8", threads: int | None = None
    ) -> HybridModel:
        card_path = directory / HYBRID_CARD
        if not card_path.is_file():
            raise ModelNotFoundError(
                f"no hybrid model in {directory}: run `canhbao train hybrid --out {directory}`"
            )
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            ngram = BaselineModel.load((directory / card["baseline"]).resolve())
            encoder = SentenceEncoder.load(
                (directory / card["encoder"]).resolve(),
                backend,
                threads=threads,
                max_tokens=int(card["max_tokens"]),
            )
            specs = {spec.name: spec for spec in HEADS}
            heads = []
            with np.load(directory / WEIGHTS_FILE) as arrays:
                for name, head_card in card["heads"].items():
                    head = HybridHead(
                        specs[name],
                        {Label(k): float(v) for k, v in head_card["thresholds"].items()},
                    )
                    if head_card["learner"] in ("hybrid", "hybrid+tuned"):
                        head.embed = LinearMap(arrays[f"{name}.embed.coef"],
                                               arrays[f"{name}.embed.intercept"])  # fmt: skip
                        head.mixer = LinearMap(arrays[f"{name}.mixer.coef"],
                                               arrays[f"{name}.mixer.intercept"])  # fmt: skip
                        head.tuned = head_card["learner"] == "hybrid+tuned"
                    heads.append(head)
            tuned = None
            if any(head.tuned for head in heads):
                tuned = TunedTop.load((directory / card["tuned"]).resolve(), threads)
                if tuned.version != card["tuned_version"]:
                    raise ModelFormatError(
                        f"{directory} was trained on tuned layers {card['tuned_version']},"
                        f" {card['tuned']} holds {tuned.version}: retrain the hybrid"
                    )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ClassifierError(f"cannot load hybrid model from {directory}: {exc}") from exc
        if ngram.version != card["baseline_version"]:
            raise ModelFormatError(
                f"{directory} was trained on baseline {card['baseline_version']}, but"
                f" {card['baseline']} holds {ngram.version}: retrain with `canhbao train hybrid`"
            )
        if encoder.name != card["encoder_name"]:
            raise ModelFormatError(
                f"{directory} was trained on encoder {card['encoder_name']}, found"
                f" {encoder.name}: retrain with `canhbao train hybrid`"
            )
        return cls(ngram, encoder, heads, card, tuned)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for name, head in self.heads.items():
            for part, linear in (("embed", head.embed), ("mixer", head.mixer)):
                if linear is not None and head.mixer is not None:
                    arrays[f"{name}.{part}.coef"] = linear.coef
                    arrays[f"{name}.{part}.intercept"] = linear.intercept
        np.savez(directory / WEIGHTS_FILE, **arrays)  # type: ignore[arg-type]
        (directory / HYBRID_CARD).write_text(
            json.dumps(self.card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    # prediction ---------------------------------------------------------------------------

    def vectors(self, batch: Sequence[ClassifierInput], rows: Sequence[int]) -> np.ndarray:
        """The embedding of each row: the pipeline's where it came with the post (from this
        encoder), made here otherwise (evaluation, benchmarks, another encoder's vector)."""
        return self.encoded(batch, rows)[0]

    def encoded(
        self, batch: Sequence[ClassifierInput], rows: Sequence[int]
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Each row's embedding and, where the tuned top layers are mixed in, the inner states
        they read: the embed stage's where they came with the post, made here otherwise."""
        out = np.zeros((len(rows), self.encoder.dim), dtype=np.float32)
        tap = self.encoder.tap_layer
        states: list[np.ndarray] = [np.empty(0)] * len(rows)
        missing = []
        for k, i in enumerate(rows):
            given = batch[i].embedding
            ours = given is not None and given.model == self.encoder.name
            if given is not None and ours and (tap is None or given.states is not None):
                out[k] = given.vector
                if given.states is not None:
                    states[k] = given.states
            else:
                missing.append(k)
        if missing:
            made = self.encoder.embed_posts(
                [post_passage(batch[rows[k]].title, batch[rows[k]].text) for k in missing]
            )
            for k, embedding in zip(missing, made, strict=True):
                out[k] = embedding.vector
                if embedding.states is not None:
                    states[k] = embedding.states
        return out, states if tap is not None else None

    def _score(
        self,
        batch: Sequence[ClassifierInput],
        model_texts: list[str],
        live: list[int],
        scores: list[dict[Label, float]],
    ) -> None:
        ngram = self.ngram.head_probabilities(batch, model_texts, live)
        mixing = any(self.heads[name].mixer is not None for name in ngram)
        vectors, states = self.encoded(batch, live) if mixing else (None, None)
        tuned_logits = None
        if (
            self.tuned is not None
            and states is not None
            and any(self.heads[n].tuned for n in ngram)
        ):
            tuned_logits = self.tuned.logits(states)
        position = {row: k for k, row in enumerate(live)}
        for name, (rows, proba) in ngram.items():
            head = self.heads[name]
            if head.mixer is not None and vectors is not None:
                at = [position[r] for r in rows]
                tuned = None
                if head.tuned and self.tuned is not None and tuned_logits is not None:
                    tuned = self.tuned.proba(tuned_logits[at], name)
                proba = head.mix(proba, vectors[at], tuned)
            record_scores(head.spec, rows, proba, batch, scores)

    def _evidence_batch(
        self, texts: list[str], model_texts: list[str], labels: list[list[Label]]
    ) -> list[list[Evidence]]:
        return self.ngram.ngram_evidence(texts, model_texts, labels)
