"""The claim matcher the pipeline runs: the fitted fusion and thresholds (`train claims`) over
the library's *published* claims, rebuilt when the library changes (looked at most every
`refresh_s` seconds, so a claim a supervisor publishes is matched within that time)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from alerting.claims.fusion import Fusion
from alerting.claims.index import ClaimIndex, IndexedText
from alerting.claims.lexical import LexicalModel
from alerting.claims.library import ClaimLibrary
from alerting.claims.matcher import ClaimMatch, ClaimMatcher, MatchPolicy
from classifiers.embedding import Embedder

__all__ = ["LibraryMatching", "build_matcher"]

log = logging.getLogger(__name__)


def build_matcher(
    library: ClaimLibrary,
    card: dict[str, Any],
    lexical: LexicalModel,
    embedder: Embedder | None,
) -> ClaimMatcher | None:
    """A matcher over the published claims; None while none is published."""
    fusion = Fusion.from_json(card["fusion"])
    texts = library.published_texts(embedder if fusion.vectors else None)
    if not texts:
        return None
    vectors = (
        np.stack([t.vector for t in texts if t.vector is not None]) if fusion.vectors else None
    )
    index = ClaimIndex([IndexedText(t.claim_id, t.text) for t in texts], vectors, lexical)
    published = library.published_claims()
    return ClaimMatcher(
        index,
        fusion,
        MatchPolicy(**card["policy"]),
        {c.claim_id: c.rebuttal.published_on for c in published if c.rebuttal},
        {c.claim_id: c.statement for c in published},
    )


class LibraryMatching:
    def __init__(
        self,
        library: ClaimLibrary,
        card: dict[str, Any],
        lexical: LexicalModel,
        embedder: Embedder | None,
        refresh_s: float = 30.0,
    ) -> None:
        self._library = library
        self._card = card
        self._lexical = lexical
        self._embedder = embedder
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._revision: tuple[int, str] | None = None
        self._checked = -float("inf")
        self._matcher: ClaimMatcher | None = None
        self.needs_vectors = bool(card["fusion"]["vectors"])

    def _current(self) -> ClaimMatcher | None:
        with self._lock:
            if time.monotonic() - self._checked >= self._refresh_s:
                self._checked = time.monotonic()
                revision = self._library.revision()
                if revision != self._revision:
                    started = time.perf_counter()
                    self._matcher = build_matcher(
                        self._library, self._card, self._lexical, self._embedder
                    )
                    self._revision = revision
                    log.info(
                        "claim library loaded: %d published claim(s) in %.2f s",
                        0 if self._matcher is None else len(self._matcher.index),
                        time.perf_counter() - started,
                    )
            return self._matcher

    def match_posts(
        self, passages: Sequence[str], vectors: np.ndarray | None, now: datetime, limit: int = 3
    ) -> list[list[ClaimMatch]]:
        matcher = self._current()
        if matcher is None:
            return [[] for _ in passages]
        return matcher.match_posts(passages, vectors, now, limit)

    def statement(self, claim_id: str) -> str:
        matcher = self._matcher
        return matcher.statement(claim_id) if matcher is not None else claim_id
