"""The lexical half of claim matching: sublinear TF-IDF over folded text — word 1–2-grams and
character 3–5-grams within words, hashed (no vocabulary to store), each block L2-normalised and
the two weighted equally.

The IDF is fitted once on a reference corpus (the training claims and queries) and saved with
the matcher, not refitted on the live library: a library of five claims would otherwise give
every word the same weight, and the same post the same claim would score differently as the
library grows — against thresholds chosen on a library of thousands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from alerting.exceptions import ClaimError
from classifiers.text import fold

__all__ = ["LEXICAL_FILE", "WORD_FEATURES", "LexicalModel"]

LEXICAL_FILE = "lexical.npz"
_FEATURES = 2**18
WORD_FEATURES = _FEATURES  # the first block of a transformed row: word n-grams
CANDIDATE_MAX_DF = 0.01  # candidates come from word n-grams in ≤ 1% of the reference texts
_MIN_RARE_COUNT = 20.0
MAX_DF = 0.2  # 0.05 ran 1.5× faster and lost 0.02 success@1 on vnPara (dev, 2026-12-04)
_MIN_STOP_CORPUS = 1_000
_WORD_PATTERN = r"(?u)\b\w+\b"  # one-letter words count: "ở", "là" fold to "o", "la"


def _hashers() -> tuple[HashingVectorizer, HashingVectorizer]:
    common = {"n_features": _FEATURES, "alternate_sign": False, "norm": None, "dtype": np.float32}
    words = HashingVectorizer(
        analyzer="word", ngram_range=(1, 2), token_pattern=_WORD_PATTERN, **common
    )
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    return words, chars


def _idf(counts: sparse.csr_matrix, max_df: float) -> np.ndarray:
    """Smoothed IDF, as scikit-learn's; 0 for features in more than `max_df` of the corpus
    (stop words and stop n-grams: they say little and make every claim a candidate)."""
    documents = np.bincount(counts.indices, minlength=counts.shape[1])
    n = counts.shape[0]
    idf: np.ndarray = (np.log((1 + n) / (1 + documents)) + 1.0).astype(np.float32)
    if n >= _MIN_STOP_CORPUS:  # in a few texts every word is "frequent"
        idf[documents > max_df * n] = 0.0
    return idf


def _weighted(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    counts = counts.tocsr(copy=True)
    counts.data = (np.log(counts.data) + 1.0) * idf[counts.indices]  # sublinear tf × idf
    counts.eliminate_zeros()  # stop features: gone from the rows, not stored as zeros
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags((1.0 / norms).astype(np.float32)) @ counts


class LexicalModel:
    def __init__(self, idf_words: np.ndarray, idf_chars: np.ndarray) -> None:
        self._words, self._chars = _hashers()
        self.idf_words, self.idf_chars = idf_words, idf_chars

    @classmethod
    def fit(cls, corpus: Sequence[str], max_df: float = MAX_DF) -> LexicalModel:
        if not corpus:
            raise ClaimError("the lexical model needs a corpus")
        words, chars = _hashers()
        folded = [fold(t) for t in corpus]
        return cls(_idf(words.transform(folded), max_df), _idf(chars.transform(folded), max_df))

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """[texts, features]: unit-length rows (zero rows for texts without a feature)."""
        folded = [fold(t) for t in texts]
        words = _weighted(self._words.transform(folded), self.idf_words)
        chars = _weighted(self._chars.transform(folded), self.idf_chars)
        return sparse.hstack([words, chars], format="csr") * np.float32(np.sqrt(0.5))

    def rare_words(self, max_df: float = CANDIDATE_MAX_DF) -> np.ndarray:
        """[word features] True where a word n-gram is in at most `max_df` of the reference
        corpus (read back from its IDF): the discriminating ones candidates are found by."""
        present = self.idf_words > 0
        if not present.any():
            return present
        n = float(np.exp(self.idf_words.max() - 1.0) - 1.0)  # the unseen feature's IDF
        documents = (1.0 + n) / np.exp(self.idf_words.astype(np.float64) - 1.0) - 1.0
        # in a small corpus every word counts as rare: 1% of 30 texts would be none at all
        rare: np.ndarray = present & (documents <= max(max_df * n, _MIN_RARE_COUNT) + 0.5)
        return rare

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / LEXICAL_FILE, words=self.idf_words, chars=self.idf_chars)

    @classmethod
    def load(cls, directory: Path) -> LexicalModel:
        path = directory / LEXICAL_FILE
        if not path.is_file():
            raise ClaimError(f"no lexical model at {directory}: run `canhbao train claims`")
        with np.load(path) as data:
            words, chars = data["words"], data["chars"]
        if words.shape != (_FEATURES,) or chars.shape != (_FEATURES,):
            raise ClaimError(f"{path} holds another feature layout: rerun `canhbao train claims`")
        return cls(words.astype(np.float32), chars.astype(np.float32))
