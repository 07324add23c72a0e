"""Export a transformer model folder to ONNX, beside its weights (`canhbao transformer export`).

A model trained with its lower layers frozen also gets `top.onnx`/`top.int8.onnx`: the trained
layers and the heads alone, reading the frozen layers' output. The hybrid runs that graph on
the hidden states its encoder pass already computed (the embed stage's), so the tuned heads cost
a few layers per post, not a second encoder pass.
"""

from __future__ import annotations

from pathlib import Path

from classifiers.transformer.backends import export_onnx, export_top_onnx
from classifiers.transformer.model import card_pooling, card_specs, read_card
from classifiers.transformer.network import MultiHeadEncoder

__all__ = ["export_folder"]


def export_folder(directory: Path) -> list[Path]:
    """Write `model.onnx` and `model.int8.onnx` for the model in `directory`; returns them."""
    card = read_card(directory)
    # Plain ("eager") attention traces to a simpler graph than PyTorch's fused SDPA: the int8
    # export of it ran ~6% faster here, with the same scores.
    network = MultiHeadEncoder.load(
        directory, card_specs(card), card_pooling(card), attn_implementation="eager"
    )
    written = export_onnx(network, directory)
    if int(card.get("frozen_layers", 0)):
        written += export_top_onnx(network, int(card["frozen_layers"]), directory)
    return written
