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

from classifiers.embedding import PostEmbedding
from classifiers.encoder.convert import CARD_FILE, ONNX_FP32, ONNX_INT8, TOKENIZER_FILE
from classifiers.encoder.onnx_graph import tap_name
from classifiers.exceptions import ModelFormatError, ModelNotFoundError

__all__ = ["Backend", "SentenceEncoder", "encoder_name"]

Backend = Literal["onnx-int8", "onnx", "torch"]
Kind = Literal["passage", "query"]
_Encoded = tuple[np.ndarray, np.ndarray | None]


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
        self._run = run  # (ids, mask [B, T] int64, tap) → ([B, dim], [B, T, hidden] or None)
        self._name = name
        self._bos, self._eos, self._pad = bos, eos, pad
        self.dim = dim
        self.backend = backend
        self.max_positions = max_positions  # the model's limit, `<s>` and `</s>` included
        self.max_tokens = max_tokens
        self.batch_tokens = batch_tokens
        self.tap_layer: int | None = None  # set by a consumer of inner states (the hybrid)

    @property
    def name(self) -> str:
        """Whose vectors these are: the model, its weights' source and the token budget
        (`PostEmbedding.model`). The backend is left out: int8 and fp32 vectors of the same
        weights agree to cosine 0.995 and may be compared."""
        return f"{self._name}/t{self.max_tokens}"

    @property
    def weights_name(self) -> str:
        """The model and its weights' source, without the token budget (`encoder_name`)."""
        return self._name

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

        outputs = {o.name for o in session.get_outputs()}

        def run(ids: np.ndarray, mask: np.ndarray, tap: int | None) -> _Encoded:
            names = ["embedding"]
            if tap is not None:
                if tap_name(tap) not in outputs:
                    raise ModelFormatError(
                        f"{graph} has no {tap_name(tap)} output: rebuild it with"
                        " `canhbao models build-encoder --force`"
                    )
                names.append(tap_name(tap))
            found = session.run(names, {"input_ids": ids, "attention_mask": mask})
            states = np.asarray(found[1], dtype=np.float32) if tap is not None else None
            return np.asarray(found[0], dtype=np.float32), states

        return cls(tokenizer, run, name=encoder_name(folder), **_specials(tokenizer), dim=dim,
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

        def run(ids: np.ndarray, mask: np.ndarray, tap: int | None) -> _Encoded:
            with torch.inference_mode():
                out = model(
                    input_ids=torch.from_numpy(ids),
                    attention_mask=torch.from_numpy(mask),
                    output_hidden_states=tap is not None,
                )
            hidden = out.last_hidden_state
            weights = torch.from_numpy(mask).unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(mean, dim=-1).numpy().astype(np.float32)
            states = out.hidden_states[tap].float().numpy() if tap is not None else None
            return vectors, states

        name = encoder_name(Path(ref)) if Path(ref).is_dir() else ref
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
        return self._encode(texts, kind, None)[0]

    def embed_with_states(
        self, texts: Sequence[str], layer: int, kind: Kind = "passage"
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The embeddings, and for each text the hidden states after the first `layer` layers
        ([its tokens, hidden], padding removed), from the same pass."""
        vectors, states = self._encode(texts, kind, layer)
        assert states is not None
        return vectors, states

    def embed_posts(self, passages: Sequence[str]) -> list[PostEmbedding]:
        """The embed stage's call: one `PostEmbedding` per passage, carrying the tap layer's
        states too where a consumer asked for them (`tap_layer`)."""
        if self.tap_layer is None:
            return [PostEmbedding(self.name, v) for v in self.embed(passages)]
        vectors, states = self.embed_with_states(passages, self.tap_layer)
        return [PostEmbedding(self.name, v, s) for v, s in zip(vectors, states, strict=True)]

    def _encode(
        self, texts: Sequence[str], kind: Kind, tap: int | None
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        states = None if tap is None else [np.empty(0)] * len(texts)
        if not texts:
            return out, states
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
            vectors, hidden = self._run(batch, mask, tap)
            out[rows] = vectors
            if hidden is not None and states is not None:
                for r, i in enumerate(rows):
                    states[i] = hidden[r, : len(ids[i])].copy()
            start = end
        return out, states


def encoder_name(folder: Path) -> str:
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
