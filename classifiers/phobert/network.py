"""The network: a PhoBERT (RoBERTa) encoder shared by every head, one small classifier per head.

Each head reads the `<s>` position, as RoBERTa's sequence classifier does (dense → tanh →
linear). `forward` returns every head's logits side by side, one tensor, so that the exported
ONNX graph has a single output and one pass serves all heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.utils import logging as transformers_logging

from classifiers.heads import HeadSpec

__all__ = ["ENCODER_DIR", "HEADS_FILE", "MultiHeadPhobert"]

transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no per-shard bars in logs

ENCODER_DIR = "encoder"
HEADS_FILE = "heads.safetensors"


class _Head(nn.Module):
    def __init__(self, hidden: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, classes)

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.tanh(self.dense(self.dropout(cls)))))  # type: ignore[no-any-return]


class MultiHeadPhobert(nn.Module):
    def __init__(self, encoder: PreTrainedModel, specs: Sequence[HeadSpec], dropout: float = 0.1):
        super().__init__()
        hidden = int(encoder.config.hidden_size)
        self.encoder = encoder
        self.names = [spec.name for spec in specs]
        self.heads = nn.ModuleDict(
            {spec.name: _Head(hidden, len(spec.classes), dropout) for spec in specs}
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        cls = hidden.last_hidden_state[:, 0]
        return torch.cat([self.heads[name](cls) for name in self.names], dim=1)

    @classmethod
    def from_base(
        cls, base: str | Path, specs: Sequence[HeadSpec], **encoder_options: Any
    ) -> MultiHeadPhobert:
        """A pretrained encoder (local folder or hub id) with freshly initialised heads."""
        encoder = AutoModel.from_pretrained(str(base), add_pooling_layer=False, **encoder_options)
        return cls(encoder, specs)

    @classmethod
    def load(
        cls, directory: Path, specs: Sequence[HeadSpec], **encoder_options: Any
    ) -> MultiHeadPhobert:
        network = cls.from_base(directory / ENCODER_DIR, specs, **encoder_options)
        network.heads.load_state_dict(load_file(str(directory / HEADS_FILE)))
        return network.eval()

    def save(self, directory: Path) -> None:
        self.encoder.save_pretrained(directory / ENCODER_DIR)
        state = {k: v.detach().contiguous() for k, v in self.heads.state_dict().items()}
        save_file(state, str(directory / HEADS_FILE))
