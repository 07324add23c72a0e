"""PhoBERT-shaped models with random weights and their own tokenizer files, built locally.

For tests and benchmarks only: no weights can be downloaded here, and a random network has the
same shapes and cost as a trained one but knows nothing. The tokenizer is real PhoBERT BPE
(`vocab.txt` in fairseq's "token count" lines, `bpe.codes` merges), learned from a word list.
"""

from __future__ import annotations

import collections
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from classifiers.heads import HEADS, HeadSpec
from classifiers.transformer.model import CARD_FILE, TOKENIZER_DIR

__all__ = [
    "PHOBERT_BASE_VOCAB",
    "SIZES",
    "build_random_phobert",
    "learn_bpe",
    "segmented_words",
    "write_tokenizer",
]

PHOBERT_BASE_VOCAB = 64_001
SIZES: dict[str, dict[str, int]] = {
    "tiny": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    },
    "base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
}
_END = "</w>"


def segmented_words(texts: Iterable[str]) -> list[str]:
    """The words of `texts` as a PhoBERT tokenizer sees them (normalised, pyvi-segmented):
    the corpus a scaffold's BPE is learned from."""
    from classifiers.text import normalize_text, text_for_model
    from classifiers.text.segment import make_segmenter

    segmenter = make_segmenter("pyvi")
    return [w for t in texts for w in segmenter.segment(text_for_model(normalize_text(t))).split()]


def _merge(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def _symbols(word: str) -> tuple[str, ...]:
    return (*word[:-1], word[-1] + _END)


def learn_bpe(words: Iterable[str], merges: int) -> tuple[list[tuple[str, str]], set[str]]:
    """Subword-nmt style BPE: the `merges` most frequent pairs, in order, and every piece the
    merged words are made of (so the vocabulary covers its own corpus)."""
    vocab = collections.Counter(_symbols(w) for w in words if w)
    learned: list[tuple[str, str]] = []
    for _ in range(merges):
        pairs: collections.Counter[tuple[str, str]] = collections.Counter()
        for symbols, count in vocab.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += count
        if not pairs:
            break
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        learned.append(best)
        vocab = collections.Counter({_merge(s, best): c for s, c in vocab.items()})
    pieces = {p for symbols in vocab for p in symbols}
    return learned, pieces


def _fairseq_piece(piece: str) -> str:
    return piece[: -len(_END)] if piece.endswith(_END) else piece + "@@"


def write_tokenizer(
    directory: Path, words: Sequence[str], merges: int = 300, pad_to: int | None = None
) -> None:
    """`vocab.txt` + `bpe.codes` learned from `words`; single characters (as word-final and
    inner pieces) are always in, so any text of those letters tokenises without `<unk>`."""
    learned, pieces = learn_bpe(words, merges)
    chars = sorted({c for w in words for c in w})
    entries = dict.fromkeys([_fairseq_piece(p) for p in sorted(pieces)])
    for c in chars:
        entries.setdefault(c, None)
        entries.setdefault(c + "@@", None)
    tokens = list(entries)
    if pad_to is not None:  # PhoBERT-base's vocabulary size, for a realistic embedding matrix
        tokens += [f"<extra_{i}>" for i in range(max(0, pad_to - 5 - len(tokens)))]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(f"{t} 1\n" for t in tokens), encoding="utf-8")
    (directory / "bpe.codes").write_text(
        "".join(f"{a} {b} 1\n" for a, b in learned), encoding="utf-8"
    )


def build_random_phobert(
    directory: Path,
    words: Sequence[str],
    size: str = "tiny",
    specs: Sequence[HeadSpec] = HEADS,
    vocab_size: int | None = None,
    seed: int = 0,
    merges: int = 300,
) -> Path:
    """A complete model folder (tokenizer, random encoder, random heads, card with neutral
    thresholds) that `TransformerClassifier.load` and `canhbao train phobert --base` accept."""
    import torch
    from transformers import PhobertTokenizer, RobertaConfig, RobertaModel

    from classifiers.transformer.network import MultiHeadEncoder

    raw = directory / "_raw_tokenizer"
    write_tokenizer(raw, words, merges, pad_to=vocab_size)
    tokenizer = PhobertTokenizer(str(raw / "vocab.txt"), str(raw / "bpe.codes"))  # type: ignore[no-untyped-call]
    tokenizer.save_pretrained(str(directory / TOKENIZER_DIR))
    torch.manual_seed(seed)
    shape: dict[str, Any] = dict(SIZES[size])
    config = RobertaConfig(
        vocab_size=max(vocab_size or 0, len(tokenizer)),
        max_position_embeddings=258,  # 256 positions + RoBERTa's padding offset, as PhoBERT
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **shape,
    )
    network = MultiHeadEncoder(
        RobertaModel(config, add_pooling_layer=False),  # type: ignore[no-untyped-call]
        specs,
    ).eval()
    network.save(directory)
    card: dict[str, Any] = {
        "model": "canhbao-transformer",
        "version": f"random-{size}-{seed}",
        "base": f"random:{size}",
        "max_length": 256,
        "overlap": 64,
        "max_windows": 8,
        "segmenter": "pyvi",
        "heads": {
            spec.name: {
                "classes": list(spec.classes),
                "thresholds": {label.value: 0.5 for label in spec.labels},
                "temperature": 1.0,
            }
            for spec in specs
        },
        "note": "Random weights: for tests and benchmarks, never for alerts.",
    }
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    for leftover in raw.iterdir():
        leftover.unlink()
    raw.rmdir()
    return directory
