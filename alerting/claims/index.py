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


_DENSE_BUDGET = 8_000_000  # scores held at once (32 MB of float32): texts × claims per block


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
        # texts in claim order: with one text a claim (the usual case) text i is claim i
        order = sorted(range(len(texts)), key=lambda i: position[texts[i].claim_id])
        self._owner = np.asarray([position[texts[i].claim_id] for i in order], dtype=np.int64)
        self._identity = len(order) == len(self.claim_ids)
        self.lexical = lexical or LexicalModel.fit([t.text for t in texts])
        # features × texts, built once: each query chunk is one sparse product against it
        self._matrix_t = self.lexical.transform([texts[i].text for i in order]).T.tocsr()
        self._vectors = None
        if vectors is not None:
            self._vectors = np.ascontiguousarray(vectors[order], np.float32)

    def __len__(self) -> int:
        return len(self.claim_ids)

    @property
    def has_vectors(self) -> bool:
        return self._vectors is not None

    def _per_claim(self, scores: np.ndarray) -> np.ndarray:
        """[queries, texts] → [queries, claims]: each claim's best text."""
        if self._identity:
            return scores
        out = np.full((scores.shape[0], len(self.claim_ids)), -np.inf, dtype=np.float32)
        np.maximum.at(out.T, self._owner, scores.T)
        return out

    def candidates(
        self, queries: Sequence[str], vectors: np.ndarray | None = None, k: int = 10
    ) -> list[list[Candidate]]:
        """For each query, the union of its lexical and vector top-`k` claims, best first by
        the lexical score (the fusion reorders them)."""
        return self.grouped_candidates([[q] for q in queries], vectors, k)

    def grouped_candidates(
        self, groups: Sequence[Sequence[str]], vectors: np.ndarray | None = None, k: int = 10
    ) -> list[list[Candidate]]:
        """The same for groups of texts (a post's sentences) with one vector per group: a
        claim's lexical score is its best text of the group's, its vector score the group's."""
        use_vectors = self._vectors is not None and vectors is not None
        out: list[list[Candidate]] = []
        k = min(k, len(self.claim_ids))
        budget = max(1, _DENSE_BUDGET // max(len(self.claim_ids), 1))  # texts per dense block
        start = 0
        while start < len(groups):
            stop, units = start, 0
            while stop < len(groups) and (stop == start or units + len(groups[stop]) <= budget):
                units += len(groups[stop])
                stop += 1
            chunk = groups[start:stop]
            flat = [text for group in chunk for text in group]
            if flat:
                lexical = self._per_claim((self.lexical.transform(flat) @ self._matrix_t).toarray())
                bounds = np.cumsum([0] + [len(g) for g in chunk])[:-1]
                lexical = np.maximum.reduceat(lexical, bounds, axis=0)
            cosine = None
            if use_vectors:
                assert vectors is not None
                assert self._vectors is not None
                cosine = self._per_claim(vectors[start:stop] @ self._vectors.T)
            for row, group in enumerate(chunk):
                if not group:
                    out.append([])
                    continue
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
            start = stop
        return out
