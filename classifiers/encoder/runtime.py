"""Sentence embeddings from the encoder folder: ONNX Runtime (int8 or fp32, no torch) or
transformers' `from_pretrained` on a local folder or a hub id (torch).

Texts are tokenised once (the folder's `tokenizer.json`), cut to `max_tokens` content tokens
(the beginning: a post's first sentences say what it is), given e5's prefix ("passage: " for
what is stored, "query: " for what is searched with), sorted by length and run in batches of
at most `batch_tokens` tokens, so a short post never pays for a long one's padding. The result
is one L2-normalised row per text, in the order given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from classifiers.encoder.convert import CARD_FILE, ONNX_FP32, ONNX_INT8, TOKENIZER_FILE
from classifiers.exceptions import ModelNotFoundError

__all__ = ["Backend", "SentenceEncoder"]

Backend = Literal["onnx-int8", "onnx", "torch"]
Kind = Literal["passage", "query"]


class SentenceEncoder:
    def __init__(
        self,
        tokenizer: Any,
        run: Any,
        *,
        name: str,
        bos: int,
        eos: int,
        pad: int,
        dim: int,
        backend: Backend,
        max_positions: int,
        max_tokens: int = 128,
        batch_tokens: int = 2048,
    ) -> None:
        self._tokenizer = tokenizer
        self._run = run  # (ids [B, T] int64, mask [B, T] int64) → [B, dim] float32
        self._name = name
        self._bos, self._eos, self._pad = bos, eos, pad
        self.dim = dim
        self.backend = backend
        self.max_positions = max_positions  # the model's limit, `<s>` and `</s>` included
        self.max_tokens = max_tokens
        self.batch_tokens = batch_tokens

    @property
    def name(self) -> str:
        """Whose vectors these are: the model, its weights' source and the token budget
        (`PostEmbedding.model`). The backend is left out: int8 and fp32 vectors of the same
        weights agree to cosine 0.995 and may be compared."""
        return f"{self._name}/t{self.max_tokens}"

    @classmethod
    def load(
        cls,
        ref: str | Path,
        backend: Backend = "onnx-int8",
        *,
        threads: int | None = None,
        max_tokens: int = 128,
        batch_tokens: int = 2048,
    ) -> SentenceEncoder:
        """`ref`: an encoder folder (`canhbao models build-encoder`), or — torch only — a hub
        id that `from_pretrained` resolves (honours `HF_HUB_OFFLINE`)."""
        folder = Path(ref)
        if backend == "torch":
            return cls._load_torch(str(ref), threads, max_tokens, batch_tokens)
        if not (folder / TOKENIZER_FILE).is_file():
            raise ModelNotFoundError(
                f"no encoder at {folder}: build it with `canhbao models build-encoder`"
            )
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        graph = folder / (ONNX_INT8 if backend == "onnx-int8" else ONNX_FP32)
        if not graph.is_file():
            raise ModelNotFoundError(
                f"{graph} is missing: rebuild with `canhbao models build-encoder --force`"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        dim = int(session.get_outputs()[0].shape[-1])
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            (embedding,) = session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
            return np.asarray(embedding, dtype=np.float32)

        return cls(tokenizer, run, name=_folder_name(folder), **_specials(tokenizer), dim=dim,
                   backend=backend,
                   max_positions=int(config["max_position_embeddings"]),
                   max_tokens=max_tokens, batch_tokens=batch_tokens)  # fmt: skip

    @classmethod
    def _load_torch(
        cls, ref: str, threads: int | None, max_tokens: int, batch_tokens: int
    ) -> SentenceEncoder:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        model = AutoModel.from_pretrained(ref)
        model.eval()
        fast = AutoTokenizer.from_pretrained(ref)

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                hidden = model(
                    input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
                ).last_hidden_state
            weights = torch.from_numpy(mask).unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1).numpy().astype(np.float32)

        name = _folder_name(Path(ref)) if Path(ref).is_dir() else ref
        return cls(fast.backend_tokenizer, run, name=name, **_specials(fast.backend_tokenizer),
                   dim=int(model.config.hidden_size), backend="torch",
                   max_positions=int(model.config.max_position_embeddings),
                   max_tokens=max_tokens, batch_tokens=batch_tokens)  # fmt: skip

    def token_ids(self, texts: Sequence[str], kind: Kind = "passage") -> list[list[int]]:
        """Each text's ids: `<s>`, the prefix and at most `max_tokens` content tokens, `</s>`."""
        encoded = self._tokenizer.encode_batch(
            [f"{kind}: {_encodable(text)}" for text in texts], add_special_tokens=False
        )
        prefix = len(self._tokenizer.encode(f"{kind}:", add_special_tokens=False).ids)
        budget = min(prefix + self.max_tokens, self.max_positions - 2)
        return [[self._bos, *e.ids[:budget], self._eos] for e in encoded]

    def decode(self, ids: Sequence[int], kind: Kind = "passage") -> str:
        """The text `ids` stand for, without the specials and the prefix (for references that
        must see exactly what was embedded)."""
        text = str(self._tokenizer.decode(list(ids), skip_special_tokens=True))
        return text.removeprefix(f"{kind}:").strip()

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        """[len(texts), dim] float32, L2-normalised rows, in the order of `texts`."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts, kind)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            width = len(ids[order[start]])
            end = start + 1
            # grow while the padded batch (count × longest) stays within the token budget
            while end < len(order) and (end - start + 1) * len(ids[order[end]]) <= max(
                self.batch_tokens, width
            ):
                end += 1
            rows = order[start:end]
            longest = len(ids[rows[-1]])
            batch = np.full((len(rows), longest), self._pad, dtype=np.int64)
            mask = np.zeros((len(rows), longest), dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            out[rows] = self._run(batch, mask)
            start = end
        return out


def _folder_name(folder: Path) -> str:
    """`name@sha256-prefix` of the weights' source from the folder's card; the folder's name
    where it has none (a folder saved by transformers)."""
    card = folder / CARD_FILE
    if not card.is_file():
        return folder.name
    built = json.loads(card.read_text(encoding="utf-8"))
    return f"{built['name']}@{str(built['source'].get('sha256', ''))[:12]}"


def _encodable(text: str) -> str:
    """The text as valid Unicode: a lone surrogate (from a broken decoder upstream) becomes
    "?", which the tokenizer accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _specials(tokenizer: Any) -> dict[str, int]:
    def find(token: str) -> int:
        found = tokenizer.token_to_id(token)
        if found is None:
            raise ModelNotFoundError(f"the encoder's tokenizer has no {token}")
        return int(found)

    return {"bos": find("<s>"), "eos": find("</s>"), "pad": find("<pad>")}
