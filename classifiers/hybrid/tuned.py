"""The hybrid's third input: the encoder's top layers fine-tuned (`canhbao train encoder`), run
on the inner states of the encoder pass the embed stage makes anyway.

`canhbao train encoder` fine-tunes the top k layers of the built encoder with the lower ones
frozen, and exports those k layers with their heads as `top.int8.onnx`. The frozen layers are
the built encoder's own, so their output is what the embed stage's pass computes on the way to
the sentence embedding (`SentenceEncoder.embed_with_states`): the tuned heads cost k layers per
post, not a second encoder pass. They read the embed stage's passage (headline and text, its
token budget), which is not exactly what they were trained on (each head's own text, its own
windows): the hybrid's dev selection scores them on the passage, as they run, and mixes them in
only where that wins. Only ONNX Runtime is needed to run them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.calibration import softmax
from classifiers.exceptions import ClassifierError, ModelNotFoundError
from classifiers.heads import HEADS
from classifiers.transformer.batching import token_budget_batches

__all__ = ["TOP_GRAPH", "TunedTop"]

TOP_GRAPH = "top.int8.onnx"
_CARD = "transformer.json"
_SPECS = {spec.name: spec for spec in HEADS}


@dataclass
class TunedTop:
    directory: Path
    card: dict[str, Any]
    session: Any
    slices: dict[str, slice]
    batch_tokens: int = 2048

    @property
    def start(self) -> int:
        """The encoder layers below the tuned ones: whose output this reads."""
        return int(self.card["frozen_layers"])

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def encoder_name(self) -> str:
        return str(self.card.get("encoder_name", ""))

    @classmethod
    def load(cls, directory: Path, threads: int | None = None, graph: str = TOP_GRAPH) -> TunedTop:
        """`graph`: the int8 top that serves, or `top.onnx` (fp32, for comparisons)."""
        card_path, path = directory / _CARD, directory / graph
        if not card_path.is_file() or not path.is_file():
            raise ModelNotFoundError(
                f"no fine-tuned top layers in {directory}: run `canhbao train encoder`"
            )
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            if not int(card.get("frozen_layers", 0)):
                raise ClassifierError(f"{directory} was fine-tuned whole: it has no top to run")
            slices, start = {}, 0
            for name in card["heads"]:
                width = len(_SPECS[name].classes)
                slices[name] = slice(start, start + width)
                start += width
            import onnxruntime as ort

            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClassifierError(
                f"cannot load the tuned top layers in {directory}: {exc}"
            ) from exc
        return cls(directory, card, session, slices)

    def logits(self, states: Sequence[np.ndarray]) -> np.ndarray:
        """Every head's logits ([len(states), all classes]) from each post's inner states,
        batched by length within a token budget."""
        width = sum(s.stop - s.start for s in self.slices.values())
        out = np.zeros((len(states), width), dtype=np.float32)
        lengths = [len(s) for s in states]
        for rows in token_budget_batches(lengths, max(1, len(states)), self.batch_tokens):
            longest = max(lengths[i] for i in rows)
            hidden = np.zeros((len(rows), longest, states[rows[0]].shape[1]), dtype=np.float32)
            mask = np.zeros((len(rows), longest), dtype=np.int64)
            for r, i in enumerate(rows):
                hidden[r, : len(states[i])] = states[i]
                mask[r, : len(states[i])] = 1
            (found,) = self.session.run(
                ["logits"], {"hidden_states": hidden, "attention_mask": mask}
            )
            out[rows] = found
        return out

    def proba(self, logits: np.ndarray, head: str) -> np.ndarray:
        """A head's class probabilities from `logits` rows (its fitted temperature)."""
        temperature = float(self.card["heads"][head].get("temperature", 1.0))
        return softmax(logits[:, self.slices[head]], temperature)
