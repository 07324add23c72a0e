"""Candidate retrieval over the claim library: lexical and vector, side by side.

Lexical: TF-IDF cosine over *folded* text (`lexical`: lower case, no diacritics, so a post
typed without accents still matches; word 1–2-grams and character 3–5-grams within words, which
teencode and spelling variants mostly share).
Vector: cosine of the encoder's L2-normalised embeddings (the post's own, from the embed stage;
the claims', computed once when the library loads). A claim is as close as its closest text
(the statement or any variant). Each query gets the union of both top-k lists, every candidate
scored both ways, so the fusion sees both scores for every candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from alerting.claims.lexical import LexicalModel

__all__ = ["Candidate", "ClaimIndex", "IndexedText"]


@dataclass(frozen=True, slots=True)
class IndexedText:
    claim_id: str
    text: str  # normalised (NFC, one tone-mark convention)


@dataclass(frozen=True, slots=True)
class Candidate:
    claim_id: str
    lexical: float  # TF-IDF cosine, 0…1
    vector: float | None  # embedding cosine; None when the index or the query has no vectors


_CHUNK = 64  # queries scored at once: 64 × library-size float32 at a time


class ClaimIndex:
    def __init__(
        self,
        texts: Sequence[IndexedText],
        vectors: np.ndarray | None = None,
        lexical: LexicalModel | None = None,
    ) -> None:
        """`lexical`: the matcher's fitted model; without one, the IDF is fitted on `texts`
        (fine for a library of thousands; a small one should bring the matcher's)."""
        if not texts:
            raise ValueError("a claim index needs at least one claim text")
        if vectors is not None and vectors.shape[0] != len(texts):
            raise ValueError(f"{vectors.shape[0]} vectors for {len(texts)} texts")
        self.claim_ids = sorted({t.claim_id for t in texts})
        position = {claim_id: i for i, claim_id in enumerate(self.claim_ids)}
        self._owner = np.asarray([position[t.claim_id] for t in texts], dtype=np.int64)
        self.lexical = lexical or LexicalModel.fit([t.text for t in texts])
        self._matrix = self.lexical.transform([t.text for t in texts])
        self._vectors = None if vectors is None else np.ascontiguousarray(vectors, np.float32)

    def __len__(self) -> int:
        return len(self.claim_ids)

    @property
    def has_vectors(self) -> bool:
        return self._vectors is not None

    def lexical_matrix(self, queries: Sequence[str]) -> sparse.csr_matrix:
        return self.lexical.transform(queries)

    def _per_claim(self, scores: np.ndarray) -> np.ndarray:
        """[queries, texts] → [queries, claims]: each claim's best text."""
        if len(self._owner) == len(self.claim_ids):
            out = np.empty_like(scores)
            out[:, self._owner] = scores
            return out
        out = np.full((scores.shape[0], len(self.claim_ids)), -np.inf, dtype=np.float32)
        np.maximum.at(out.T, self._owner, scores.T)
        return out

    def candidates(
        self, queries: Sequence[str], vectors: np.ndarray | None = None, k: int = 10
    ) -> list[list[Candidate]]:
        """For each query, the union of its lexical and vector top-`k` claims, best first by
        the lexical score (the fusion reorders them)."""
        use_vectors = self._vectors is not None and vectors is not None
        out: list[list[Candidate]] = []
        k = min(k, len(self.claim_ids))
        for start in range(0, len(queries), _CHUNK):
            chunk = queries[start : start + _CHUNK]
            lexical = self._per_claim((self.lexical_matrix(chunk) @ self._matrix.T).toarray())
            cosine = None
            if use_vectors:
                assert vectors is not None
                assert self._vectors is not None
                cosine = self._per_claim(vectors[start : start + len(chunk)] @ self._vectors.T)
            for row in range(len(chunk)):
                pool = set(np.argpartition(-lexical[row], k - 1)[:k].tolist())
                if cosine is not None:
                    pool.update(np.argpartition(-cosine[row], k - 1)[:k].tolist())
                ranked = sorted(pool, key=lambda c: (-lexical[row, c], c))
                out.append([
                    Candidate(
                        self.claim_ids[c],
                        float(max(lexical[row, c], 0.0)),
                        None if cosine is None else float(cosine[row, c]),
                    )
                    for c in ranked
                ])  # fmt: skip
        return out
