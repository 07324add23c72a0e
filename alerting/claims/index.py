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

from alerting.claims.lexical import WORD_FEATURES, LexicalModel

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
        # texts × features, and the word block transposed (features × texts), built once
        self._matrix = self.lexical.transform([texts[i].text for i in order])
        rare = sparse.diags(self.lexical.rare_words().astype(np.float32))
        self._words_t = (self._matrix[:, :WORD_FEATURES] @ rare).T.tocsr()
        self._words_t.eliminate_zeros()
        # claim c's texts are rows first[c] … first[c + 1] - 1
        self._first = np.searchsorted(self._owner, np.arange(len(self.claim_ids) + 1))
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
        claim's lexical score is its best text of the group's, its vector score the group's.

        Two steps, so the cost stays with the few claims that can match: candidates come from
        word n-grams (sparse: a sentence shares words with few claims, but character n-grams
        with nearly all) and from the vectors; then each candidate's full lexical score (words
        and characters) is computed exactly. A claim sharing no word with the post and not
        close in vector space is not a candidate — the fusion would not have matched it."""
        use_vectors = self._vectors is not None and vectors is not None
        out: list[list[Candidate]] = []
        k = min(k, len(self.claim_ids))
        per_block = max(1, _DENSE_BUDGET // max(len(self.claim_ids), 1))  # posts × claims
        for start in range(0, len(groups), per_block):
            chunk = groups[start : start + per_block]
            flat = [text for group in chunk for text in group]
            if not flat:
                out.extend([] for _ in chunk)
                continue
            queries = self.lexical.transform(flat)
            words = (queries[:, :WORD_FEATURES] @ self._words_t).tocsr()
            cosine = None
            if use_vectors:
                assert vectors is not None
                assert self._vectors is not None
                cosine = self._per_claim(vectors[start : start + len(chunk)] @ self._vectors.T)
            bounds = np.cumsum([0] + [len(g) for g in chunk])
            for row, group in enumerate(chunk):
                if not group:
                    out.append([])
                    continue
                lo, hi = int(bounds[row]), int(bounds[row + 1])
                pool = self._word_candidates(words[lo:hi], k)
                if cosine is not None:
                    pool.update(np.argpartition(-cosine[row], k - 1)[:k].tolist())
                claims = np.asarray(sorted(pool), dtype=np.int64)
                lexical = self._exact_lexical(queries[lo:hi], claims)
                order = sorted(range(len(claims)), key=lambda i: (-lexical[i], int(claims[i])))
                out.append([
                    Candidate(
                        self.claim_ids[int(claims[i])],
                        float(max(lexical[i], 0.0)),
                        None if cosine is None else float(cosine[row, int(claims[i])]),
                    )
                    for i in order
                ])  # fmt: skip
        return out

    def _word_candidates(self, scores: sparse.csr_matrix, k: int) -> set[int]:
        """The `k` claims with the best word-n-gram score of any text of the group."""
        if not scores.nnz:
            return set()
        best = scores.max(axis=0).tocoo()
        claims = self._owner[best.col]
        # the best few texts (enough for k claims even if several texts share a claim)
        take = min(len(best.data), 4 * k)
        best_texts = np.argpartition(-best.data, take - 1)[:take]
        top: set[int] = set()
        for i in best_texts[np.argsort(-best.data[best_texts], kind="stable")]:
            top.add(int(claims[i]))
            if len(top) == k:
                break
        return top

    def _exact_lexical(self, queries: sparse.csr_matrix, claims: np.ndarray) -> np.ndarray:
        """Each claim's full lexical score: its best text against the group's best text."""
        if not len(claims):
            return np.zeros(0, dtype=np.float32)
        starts, stops = self._first[claims], self._first[claims + 1]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
        per_text = np.asarray((queries @ self._matrix[rows].T).max(axis=0).todense()).ravel()
        owners = np.repeat(np.arange(len(claims)), stops - starts)
        out = np.full(len(claims), -np.inf, dtype=np.float32)
        np.maximum.at(out, owners, per_text)
        return out
