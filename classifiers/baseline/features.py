"""Hashed TF-IDF features shared by every head of the baseline model.

One transform per post serves all heads: word 1–2-grams on the model text (precise where
diacritics are present) and character 2–5-grams inside word boundaries on the folded text (robust
to missing diacritics and creative spelling: "ngu", "ngù", "nguuu"). Hashing needs no vocabulary,
so memory is fixed and a model loads in milliseconds.

The hashing is done for a whole batch at once in NumPy: every character n-gram of the batch is
one polynomial hash over code points, grown by one character per length, masked where it
crosses a word boundary; words are hashed once (CRC-32) and bigrams combined from them. No
Python code runs per n-gram — per-n-gram Python (scikit-learn's analyzers and hasher) was three
quarters of the baseline's prediction time.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from classifiers.text import fold, tokens

__all__ = ["HASHING", "MAX_MODEL_CHARS", "FeatureConfig", "Featurizer", "word_ngrams"]

# Features saturate long before this; a 1 MB post would otherwise cost ~0.5 s to featurise.
MAX_MODEL_CHARS = 20_000
# The feature scheme's name, kept in the model card: a model trained on another scheme's
# columns must be retrained, not loaded.
HASHING = "numpy-poly64-v1"

_BASE = np.uint64(0x100000001B3)
_SALT = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def _mix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit moves every output bit."""
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    result: np.ndarray = h ^ (h >> _S33)
    return result


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    word_bits: int = 19
    char_bits: int = 19
    char_min: int = 2
    char_max: int = 5

    @property
    def n_features(self) -> int:
        return int(2**self.word_bits + 2**self.char_bits)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def word_ngrams(model_text: str) -> list[str]:
    toks = tokens(model_text[:MAX_MODEL_CHARS])
    return toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)]


_TOKEN_CACHE: dict[str, int] = {}
_TOKEN_CACHE_SIZE = 500_000  # ~60 MB at most; words repeat, so most lookups hit


def _token_hash(token: str) -> int:
    found = _TOKEN_CACHE.get(token)
    if found is None:
        if len(_TOKEN_CACHE) >= _TOKEN_CACHE_SIZE:
            _TOKEN_CACHE.clear()
        found = _TOKEN_CACHE[token] = zlib.crc32(token.encode("utf-8", "surrogatepass"))
    return found


def _token_hashes(toks: Sequence[str]) -> np.ndarray:
    return np.fromiter(map(_token_hash, toks), np.uint64, len(toks))


def _unigram_columns(hashes: np.ndarray, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        result: np.ndarray = _mix(hashes + _SALT) & np.uint64(2**bits - 1)
    return result


def _bigram_columns(first: np.ndarray, second: np.ndarray, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = _mix(first * _BASE + second + _SALT * np.uint64(2))
    result: np.ndarray = mixed & np.uint64(2**bits - 1)
    return result


def _word_columns(hashes: np.ndarray, same_doc: np.ndarray, bits: int) -> np.ndarray:
    """Columns of the unigrams (`hashes`) followed by those of the bigrams of neighbours in
    the same document (`same_doc[i]`: tokens i and i + 1 are)."""
    bigrams = _bigram_columns(hashes[:-1][same_doc], hashes[1:][same_doc], bits)
    return np.concatenate([_unigram_columns(hashes, bits), bigrams])


def _char_columns(
    folded: Sequence[str], n_min: int, n_max: int, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """(document, column) of every character n-gram, `n_min` ≤ n ≤ `n_max`, of the words of
    each text padded with a space on both sides (scikit-learn's `char_wb`): the words joined by
    two spaces and the documents by NUL, and an n-gram kept only if it spans no double space
    and no NUL."""
    joined = "\0".join(" " + "  ".join(t.split()) + " " for t in folded) + "\0"
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    c = codes.astype(np.uint64)
    length = len(c)
    nul = codes == 0
    space = codes == 32
    doc = np.cumsum(nul) - nul
    breaks = nul[:-1] | nul[1:] | (space[:-1] & space[1:])  # between positions j and j + 1
    before = np.concatenate([[0], np.cumsum(breaks)])
    mask = np.uint64(2**bits - 1)
    docs, columns = [], []
    h = np.zeros(length, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for n in range(1, n_max + 1):
            h = h[: length - n + 1] * _BASE + c[n - 1 :]  # h[i]: hash of c[i : i + n]
            if n < n_min:
                continue
            starts = np.arange(length - n + 1)
            keep = before[starts + n - 1] == before[starts]
            docs.append(doc[: length - n + 1][keep])
            columns.append(_mix(h[keep] + _SALT * np.uint64(n)) & mask)
    return np.concatenate(docs), np.concatenate(columns)


class Featurizer:
    def __init__(self, config: FeatureConfig, idf: np.ndarray | None = None) -> None:
        self.config = config
        self.idf = idf

    def counts(self, model_texts: Sequence[str]) -> sp.csr_matrix:
        cfg = self.config
        cut = [t[:MAX_MODEL_CHARS] for t in model_texts]
        per_doc = [tokens(t) for t in cut]
        lengths = np.fromiter((len(t) for t in per_doc), np.int64, len(per_doc))
        word_doc = np.repeat(np.arange(len(cut)), lengths)
        same_doc = word_doc[:-1] == word_doc[1:]
        words = _word_columns(_token_hashes([t for d in per_doc for t in d]), same_doc,
                              cfg.word_bits)  # fmt: skip
        char_doc, chars = _char_columns([fold(t) for t in cut], cfg.char_min, cfg.char_max,
                                        cfg.char_bits)  # fmt: skip
        docs = np.concatenate([word_doc, word_doc[:-1][same_doc], char_doc])
        columns = np.concatenate([words.astype(np.int64),
                                  chars.astype(np.int64) + 2**cfg.word_bits])  # fmt: skip
        keys, counted = np.unique(docs * cfg.n_features + columns, return_counts=True)
        rows, columns = np.divmod(keys, cfg.n_features)
        indptr = np.searchsorted(rows, np.arange(len(cut) + 1))
        return sp.csr_matrix(
            (counted.astype(np.float32), columns.astype(np.int32), indptr),
            shape=(len(cut), cfg.n_features),
        )

    def fit_idf(self, model_texts: Sequence[str]) -> None:
        counts = self.counts(model_texts)
        df = np.bincount(counts.indices, minlength=self.config.n_features).astype(np.float64)
        n = counts.shape[0]
        self.idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)

    def transform(self, model_texts: Sequence[str]) -> sp.csr_matrix:
        if self.idf is None:
            raise RuntimeError("fit_idf() or a loaded idf is needed before transform()")
        matrix = self.counts(model_texts)
        np.log1p(matrix.data, out=matrix.data)  # sublinear term frequency
        matrix.data *= self.idf[matrix.indices]
        result: sp.csr_matrix = normalize(matrix, copy=False)
        return result

    def post_word_ngrams(self, model_texts: Sequence[str]) -> list[tuple[list[str], np.ndarray]]:
        """Per text, its distinct word n-grams (sorted) and their columns: the words of the
        whole batch hashed in one call, as `counts` does, and each bigram's column combined
        from its words' hashes (no n-gram string is split or hashed again)."""
        per_doc = [tokens(t[:MAX_MODEL_CHARS]) for t in model_texts]
        flat = [t for d in per_doc for t in d]
        hashes = _token_hashes(flat)
        bits = self.config.word_bits
        unigrams = _unigram_columns(hashes, bits).astype(np.int64)
        bigrams = _bigram_columns(hashes[:-1], hashes[1:], bits).astype(np.int64)
        out: list[tuple[list[str], np.ndarray]] = []
        start = 0
        for toks in per_doc:
            end = start + len(toks)
            column = dict(zip(toks, unigrams[start:end].tolist(), strict=True))
            pairs = zip(
                itertools.pairwise(toks), bigrams[start : max(start, end - 1)].tolist(), strict=True
            )
            column.update((f"{a} {b}", c) for (a, b), c in pairs)
            grams = sorted(column)
            out.append((grams, np.fromiter((column[g] for g in grams), np.int64, len(grams))))
            start = end
        return out

    def word_columns(self, ngrams: Sequence[str]) -> np.ndarray:
        """The columns of word n-grams ("a" or "a b", as `word_ngrams` writes them)."""
        parts = [g.split(" ", 1) for g in ngrams]
        first = _token_hashes([p[0] for p in parts])
        second = _token_hashes([p[-1] for p in parts])
        bigram = np.fromiter((len(p) == 2 for p in parts), bool, len(parts))
        bits = self.config.word_bits
        columns = np.where(
            bigram, _bigram_columns(first, second, bits), _unigram_columns(first, bits)
        )
        return columns.astype(np.int64)
