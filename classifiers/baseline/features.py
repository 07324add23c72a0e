"""Hashed TF-IDF features shared by every head of the baseline model.

One transform per post serves all heads: word 1–2-grams on the model text (precise where
diacritics are present) and character 2–5-grams inside word boundaries on the folded text (robust
to missing diacritics and creative spelling: "ngu", "ngù", "nguuu"). Hashing needs no vocabulary,
so memory is fixed and a model loads in milliseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from classifiers.text import fold, tokens

__all__ = ["MAX_MODEL_CHARS", "FeatureConfig", "Featurizer"]

# Features saturate long before this; a 1 MB post would otherwise cost ~0.5 s to featurise.
MAX_MODEL_CHARS = 20_000


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


class Featurizer:
    def __init__(self, config: FeatureConfig, idf: np.ndarray | None = None) -> None:
        self.config = config
        self.idf = idf
        self._words = HashingVectorizer(
            analyzer=word_ngrams,
            n_features=2**config.word_bits,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        self._chars = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(config.char_min, config.char_max),
            n_features=2**config.char_bits,
            alternate_sign=False,
            norm=None,
            lowercase=False,
            dtype=np.float32,
        )

    def counts(self, model_texts: Sequence[str]) -> sp.csr_matrix:
        folded = [fold(t[:MAX_MODEL_CHARS]) for t in model_texts]
        words = self._words.transform(model_texts)
        chars = self._chars.transform(folded)
        return sp.hstack([words, chars], format="csr", dtype=np.float32)

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

    def word_column(self, ngram: str) -> int:
        """The column a word n-gram hashes to, as HashingVectorizer computes it."""
        h = murmurhash3_32(ngram, seed=0, positive=False)
        return int(abs(int(h)) % (2**self.config.word_bits))
