"""The network: a pretrained encoder shared by every head, one small classifier per head.

Any `AutoModel` encoder works: PhoBERT (RoBERTa) reads the `<s>` position, as RoBERTa's sequence
classifier does; multilingual-e5 (BERT over an XLM-R vocabulary) was trained for mean-pooled
sentence embeddings, so its heads read the mean over the real tokens (`pooling` in the card).
Each head is dense → tanh → linear. `forward` returns every head's logits side by side, one
tensor, so that the exported ONNX graph has a single output and one pass serves all heads.

With the lower layers frozen (`frozen_layers`), their output is a fixed function of the input,
computed once per training text (`lower_states`) and read back every epoch; only the top layers
and the heads are trained (`forward_top`), several times faster on a CPU than the whole stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.utils import logging as transformers_logging

from classifiers.heads import HeadSpec

__all__ = ["ENCODER_DIR", "HEADS_FILE", "MultiHeadEncoder", "TokenPooling", "additive_mask"]

transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no per-shard bars in logs

ENCODER_DIR = "encoder"
HEADS_FILE = "heads.safetensors"
TokenPooling = Literal["cls", "mean"]


class _Head(nn.Module):
    def __init__(self, hidden: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, classes)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.tanh(self.dense(self.dropout(pooled)))))  # type: ignore[no-any-return]


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, tokens] 1/0 → [batch, 1, 1, tokens]: 0 where attended, the dtype's minimum where
    padded — the form BERT and RoBERTa layers add to their attention scores."""
    blocked = 1.0 - attention_mask[:, None, None, :].to(dtype)
    return blocked * torch.finfo(dtype).min


class MultiHeadEncoder(nn.Module):
    def __init__(
        self,
        encoder: PreTrainedModel,
        specs: Sequence[HeadSpec],
        pooling: TokenPooling = "cls",
        dropout: float = 0.1,
    ):
        super().__init__()
        hidden = int(encoder.config.hidden_size)
        self.encoder = encoder
        self.pooling = pooling
        self.names = [spec.name for spec in specs]
        self.heads = nn.ModuleDict(
            {spec.name: _Head(hidden, len(spec.classes), dropout) for spec in specs}
        )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def layers(self) -> nn.ModuleList:
        layers: nn.ModuleList = cast(Any, self.encoder).encoder.layer  # BERT and RoBERTa alike
        return layers

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.heads[name](pooled) for name in self.names], dim=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return self.classify(self.pool(hidden.last_hidden_state, attention_mask))

    def lower_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: int
    ) -> torch.Tensor:
        """The hidden states after the embeddings and the first `layers` layers."""
        x: torch.Tensor = cast(Any, self.encoder).embeddings(input_ids=input_ids)
        bias = additive_mask(attention_mask, x.dtype)
        for layer in self.layers[:layers]:
            x = _tensor(layer(x, attention_mask=bias))
        return x

    def forward_top(
        self, states: torch.Tensor, attention_mask: torch.Tensor, start: int
    ) -> torch.Tensor:
        """Every head's logits from `lower_states(…, start)`: layers `start…` and the heads."""
        bias = additive_mask(attention_mask, states.dtype)
        x = states
        for layer in self.layers[start:]:
            x = _tensor(layer(x, attention_mask=bias))
        return self.classify(self.pool(x, attention_mask))

    def freeze_below(self, layers: int) -> None:
        """No gradients for the embeddings and the first `layers` layers (0: none frozen)."""
        if layers == 0:
            return
        frozen = [cast(Any, self.encoder).embeddings, *self.layers[:layers]]
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)

    @classmethod
    def from_base(
        cls,
        base: str | Path,
        specs: Sequence[HeadSpec],
        pooling: TokenPooling = "cls",
        **encoder_options: Any,
    ) -> MultiHeadEncoder:
        """A pretrained encoder (local folder or hub id) with freshly initialised heads."""
        encoder = AutoModel.from_pretrained(str(base), add_pooling_layer=False, **encoder_options)
        return cls(encoder, specs, pooling)

    @classmethod
    def load(
        cls,
        directory: Path,
        specs: Sequence[HeadSpec],
        pooling: TokenPooling = "cls",
        **encoder_options: Any,
    ) -> MultiHeadEncoder:
        network = cls.from_base(directory / ENCODER_DIR, specs, pooling, **encoder_options)
        network.heads.load_state_dict(load_file(str(directory / HEADS_FILE)))
        return network.eval()

    def save(self, directory: Path) -> None:
        self.encoder.save_pretrained(directory / ENCODER_DIR)
        state = {k: v.detach().contiguous() for k, v in self.heads.state_dict().items()}
        save_file(state, str(directory / HEADS_FILE))


def _tensor(output: Any) -> torch.Tensor:
    """A layer's hidden states: transformers 5 returns the tensor, 4.x a tuple around it."""
    return output[0] if isinstance(output, tuple) else output  # type: ignore[no-any-return]
