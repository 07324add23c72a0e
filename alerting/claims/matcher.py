"""Matching texts against the claim library: candidates (`index`), one fused score
(`fusion`), and the policy that turns a score into *suggest* or *strong*.

Downgrades, as Meedan Check does: a strong match becomes a suggestion when the post is short
(under `min_words` words: too little text to be sure it states the claim) or the claim's
rebuttal is older than `stale_days` (the facts may have moved on). A suggestion is evidence for
an analyst, never a verdict; nothing here sends anything anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from alerting.claims.fusion import Fusion
from alerting.claims.index import Candidate, ClaimIndex
from alerting.exceptions import ClaimError
from classifiers.text import tokens

__all__ = [
    "MATCHER_FILE",
    "ClaimMatch",
    "ClaimMatcher",
    "MatchPolicy",
    "MatchStrength",
    "post_units",
    "read_matcher_card",
    "sentences",
]

MATCHER_FILE = "matcher.json"


class MatchStrength(StrEnum):
    SUGGEST = "suggest"
    STRONG = "strong"


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    suggest: float
    strong: float
    min_words: int = 8
    stale_days: int = 365

    def __post_init__(self) -> None:
        if not 0.0 < self.suggest <= self.strong <= 1.0:
            raise ClaimError(f"thresholds must satisfy 0 < suggest ≤ strong ≤ 1: {self}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    claim_id: str
    score: float  # fused, 0…1
    strength: MatchStrength
    lexical: float
    vector: float | None
    downgraded: tuple[str, ...] = field(default=())  # "short_text", "stale_claim"


def _words(text: str) -> int:
    return sum(1 for t in tokens(text) if any(ch.isalnum() for ch in t))


class ClaimMatcher:
    def __init__(
        self,
        index: ClaimIndex,
        fusion: Fusion,
        policy: MatchPolicy,
        reviewed_on: Mapping[str, date] | None = None,
        statements: Mapping[str, str] | None = None,
    ) -> None:
        if fusion.vectors and not index.has_vectors:
            raise ClaimError("this fusion reads vector scores: build the index with vectors")
        self.index = index
        self.fusion = fusion
        self.policy = policy
        self.reviewed_on = dict(reviewed_on or {})
        self.statements = dict(statements or {})

    def statement(self, claim_id: str) -> str:
        return self.statements.get(claim_id, claim_id)

    def match(
        self,
        texts: Sequence[str],
        vectors: np.ndarray | None,
        now: datetime,
        limit: int = 3,
    ) -> list[list[ClaimMatch]]:
        """Per text, its matches at or above *suggest*, best first (at most `limit`)."""
        return self.match_units([[t] for t in texts], texts, vectors, now, limit)

    def match_posts(
        self,
        passages: Sequence[str],
        vectors: np.ndarray | None,
        now: datetime,
        limit: int = 3,
    ) -> list[list[ClaimMatch]]:
        """Per post: a claim is one sentence, a post many, and a sentence's words drown in a
        whole article's; so each sentence (up to `MAX_UNITS`) is matched lexically and a claim
        keeps its best sentence's score; the vector score is the post's own embedding's."""
        return self.match_units([post_units(p) for p in passages], passages, vectors, now, limit)

    def match_units(
        self,
        units: Sequence[Sequence[str]],
        texts: Sequence[str],
        vectors: np.ndarray | None,
        now: datetime,
        limit: int = 3,
    ) -> list[list[ClaimMatch]]:
        if self.fusion.vectors and vectors is None:
            raise ClaimError("this matcher needs the texts' embeddings")
        found = self.index.grouped_candidates(units, vectors if self.fusion.vectors else None)
        return [
            self._decide(text, candidates, now, limit)
            for text, candidates in zip(texts, found, strict=True)
        ]

    def _decide(
        self, text: str, candidates: list[Candidate], now: datetime, limit: int
    ) -> list[ClaimMatch]:
        if not candidates:
            return []
        scores = self.fusion.scores(candidates)
        order = np.argsort(-scores, kind="stable")[:limit]
        short = _words(text) < self.policy.min_words
        matches = []
        for i in order:
            score = float(scores[i])
            if score < self.policy.suggest:
                break
            c = candidates[i]
            reasons = []
            if short:
                reasons.append("short_text")
            reviewed = self.reviewed_on.get(c.claim_id)
            if reviewed is not None and (now.date() - reviewed).days > self.policy.stale_days:
                reasons.append("stale_claim")
            strong = score >= self.policy.strong and not reasons
            matches.append(ClaimMatch(
                c.claim_id, round(score, 4),
                MatchStrength.STRONG if strong else MatchStrength.SUGGEST,
                round(c.lexical, 4), None if c.vector is None else round(c.vector, 4),
                tuple(reasons) if score >= self.policy.strong else (),
            ))  # fmt: skip
        return matches


MAX_UNITS = 24
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def sentences(text: str) -> list[str]:
    """`text` cut after ". ! ? …" and at line breaks, each piece stripped, empty ones dropped."""
    return [u.strip() for u in _SENTENCE_END.split(text) if u.strip()]


def post_units(passage: str) -> list[str]:
    """The sentences a post is matched by (its headline is the first line of the passage)."""
    return sentences(passage)[:MAX_UNITS] or [passage]


def read_matcher_card(directory: Path) -> dict[str, Any]:
    path = directory / MATCHER_FILE
    if not path.is_file():
        raise ClaimError(f"no claim matcher at {directory}: run `canhbao train claims`")
    card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return card
