"""Export a PhoBERT model folder to ONNX, beside its weights (`canhbao phobert export`)."""

from __future__ import annotations

from pathlib import Path

from classifiers.phobert.backends import export_onnx
from classifiers.phobert.model import HEADS_BY_NAME, read_card
from classifiers.phobert.network import MultiHeadPhobert

__all__ = ["export_folder"]


def export_folder(directory: Path) -> list[Path]:
    """Write `model.onnx` and `model.int8.onnx` for the model in `directory`; returns them."""
    specs = [HEADS_BY_NAME[name] for name in read_card(directory)["heads"]]
    return export_onnx(MultiHeadPhobert.load(directory, specs), directory)
