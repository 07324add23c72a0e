"""Stage: match each new post against the published known false claims (after classification,
the same function in both runners). A match becomes evidence on the post's classification —
the claim, its strength and score — and routing turns it into an alert for analysts (`route`).
Nothing is sent anywhere from here: the rebuttal reaches no one without an analyst's decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from alerting.claims.matcher import ClaimMatch
from classifiers.embedding import PostEmbedding, post_passage
from schemas import Classification, Evidence, EvidenceKind, Label, NormalizedPost

__all__ = ["ClaimMatching", "claim_evidence", "match_claims", "with_claim_evidence"]

log = logging.getLogger(__name__)


class ClaimMatching(Protocol):
    """The claim library as the stage sees it (`ClaimMatcher`, or one that reloads it)."""

    @property
    def needs_vectors(self) -> bool: ...

    def match_posts(
        self, passages: Sequence[str], vectors: np.ndarray | None, now: datetime, limit: int = 3
    ) -> list[list[ClaimMatch]]: ...

    def statement(self, claim_id: str) -> str: ...


def _vectors(
    posts: Sequence[NormalizedPost], embeddings: dict[str, PostEmbedding]
) -> np.ndarray | None:
    found = [embeddings.get(p.post_id) for p in posts]
    if any(e is None for e in found):
        return None
    return np.stack([e.vector for e in found if e is not None])


def match_claims(
    posts: Sequence[NormalizedPost],
    embeddings: dict[str, PostEmbedding],
    matching: ClaimMatching,
    now: datetime,
) -> list[list[ClaimMatch]]:
    """Per post, its claim matches. A failure costs the matches, never the post: the batch
    is retried post by post and a post that still fails gets none (logged)."""
    if not posts:
        return []

    def run(group: Sequence[NormalizedPost]) -> list[list[ClaimMatch]]:
        vectors = _vectors(group, embeddings) if matching.needs_vectors else None
        if matching.needs_vectors and vectors is None:
            log.warning("claim matching skipped: %d post(s) without an embedding", len(group))
            return [[] for _ in group]
        passages = [post_passage(p.title, p.text) for p in group]
        return matching.match_posts(passages, vectors, now)

    try:
        return run(posts)
    except Exception:
        log.exception("claim matching failed on the batch; retrying post by post")
    out: list[list[ClaimMatch]] = []
    for post in posts:
        try:
            out.extend(run([post]))
        except Exception:
            log.exception("claim matching failed on post %s", post.post_id)
            out.append([])
    return out


def claim_evidence(matches: Sequence[ClaimMatch], matching: ClaimMatching) -> list[Evidence]:
    return [
        Evidence(
            label=Label.MISINFORMATION,
            kind=EvidenceKind.CLAIM,
            text=matching.statement(m.claim_id),
            weight=m.score,
            claim_id=m.claim_id,
            strength=m.strength.value,
        )
        for m in matches
    ]


def with_claim_evidence(result: Classification, evidence: Sequence[Evidence]) -> Classification:
    """The classification with the claim evidence first (what an analyst should read first);
    the model's labels and scores are left as the model gave them."""
    if not evidence:
        return result
    return result.model_copy(update={"evidence": [*evidence, *result.evidence]})
