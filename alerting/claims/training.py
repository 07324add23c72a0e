"""`canhbao train claims`: fit the matcher on labelled claim-retrieval sets and choose its two
thresholds, every number cross-fitted.

Queries are split in two folds (by id); the fusion fitted on one fold scores the other, so each
query's hybrid score comes from a fusion that never saw it. On those scores: *suggest* is the
lowest top-1 score at which a top-1 match is right ≥ 80% of the time (a wrong one being a
no-gold query matched, or the wrong claim), *strong* the lowest at ≥ 95% — Meedan Check's
suggest/auto-link split, chosen on our data instead of taken as constants. The fusion kept is
then refitted on every query. Lexical and vector alone are scored the same way beside it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alerting.claims.evaluate import LabelledQuery, retrieval_metrics
from alerting.claims.fusion import Fusion
from alerting.claims.index import Candidate, ClaimIndex, IndexedText
from alerting.claims.lexical import LexicalModel
from alerting.claims.matcher import MATCHER_FILE, MatchPolicy
from classifiers.embedding import Embedder
from schemas import utc_now

__all__ = ["LabelledSet", "choose_threshold", "method_scores", "ranked_claims", "train_matcher"]

SUGGEST_PRECISION, SUGGEST_FALSE_RATE = 0.80, 0.05
STRONG_PRECISION, STRONG_FALSE_RATE = 0.95, 0.01
CANDIDATES = 10


@dataclass(frozen=True, slots=True)
class LabelledSet:
    name: str
    claims: list[tuple[str, str]]
    queries: list[LabelledQuery]


def choose_threshold(
    scores: np.ndarray, correct: np.ndarray, no_gold: np.ndarray, precision: float,
    false_rate: float,
) -> float | None:  # fmt: skip
    """The lowest top-1 score t such that matches scoring ≥ t are right ≥ `precision` of the
    time (at least 20 of them) *and* at most `false_rate` of the no-gold queries score ≥ t.
    The second condition is the one production feels: almost every post states no known
    claim, so a set with half its queries matched flatters precision. None if no t does."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    hits = np.cumsum(correct[order])
    counts = np.arange(1, len(order) + 1)
    false_matches = np.cumsum(no_gold[order]) / max(int(no_gold.sum()), 1)
    ok = (hits / counts >= precision) & (counts >= 20) & (false_matches <= false_rate)
    # ties: a cut inside a run of equal scores is not a threshold
    ok &= np.append(ranked[1:] < ranked[:-1], True)
    if not ok.any():
        return None
    return float(ranked[np.nonzero(ok)[0].max()])


def _fold(query_id: str) -> int:
    return hashlib.sha256(query_id.encode()).digest()[0] & 1


def method_scores(
    method: str, candidates: Sequence[Candidate], fusion: Fusion | None = None
) -> np.ndarray:
    if method == "lexical":
        return np.asarray([c.lexical for c in candidates])
    if method == "vector":
        return np.asarray([c.vector if c.vector is not None else -1.0 for c in candidates])
    assert fusion is not None
    return fusion.scores(candidates)


def ranked_claims(candidates: Sequence[Candidate], scores: np.ndarray) -> tuple[list[str], float]:
    """The candidates' claim ids best first by `scores`, and the best score (0 if none)."""
    if not candidates:
        return [], 0.0
    order = np.argsort(-scores, kind="stable")
    return [candidates[i].claim_id for i in order], float(scores[order[0]])


def train_matcher(
    sets: Sequence[LabelledSet],
    out_dir: Path,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    started = time.perf_counter()
    pooled: list[tuple[str, LabelledQuery, list[Candidate]]] = []
    # One IDF for every set and for production: claims and queries alike, as posts will be.
    lexical = LexicalModel.fit(
        [text for s in sets for _, text in s.claims] + [q.text for s in sets for q in s.queries]
    )
    for labelled in sets:
        texts = [IndexedText(cid, text) for cid, text in labelled.claims]
        claim_vectors = embedder.embed([t.text for t in texts]) if embedder else None
        index = ClaimIndex(texts, claim_vectors, lexical)
        query_vectors = embedder.embed([q.text for q in labelled.queries]) if embedder else None
        found = index.candidates([q.text for q in labelled.queries], query_vectors, CANDIDATES)
        pooled += [(labelled.name, q, c) for q, c in zip(labelled.queries, found, strict=True)]
        progress(f"{labelled.name}: {len(labelled.claims)} claims, {len(labelled.queries)} queries")
    vectors: bool = embedder is not None
    sizes = {s.name: len(s.queries) for s in sets}
    weight = [len(pooled) / len(sets) / sizes[name] for name, _, _ in pooled]  # sets weigh alike
    hybrid = np.empty(len(pooled), dtype=object)
    for fold in (0, 1):
        fit = [i for i, (_, q, _) in enumerate(pooled) if _fold(q.query_id) != fold]
        fusion = Fusion.fit([pooled[i][2] for i in fit], [set(pooled[i][1].gold) for i in fit],
                            vectors, [weight[i] for i in fit])  # fmt: skip
        for i, (_, q, c) in enumerate(pooled):
            if _fold(q.query_id) == fold:
                hybrid[i] = fusion.scores(c)
    methods = ["lexical", "vector", "hybrid"] if vectors else ["lexical", "hybrid"]
    thresholds: dict[str, dict[str, float | None]] = {}
    report: dict[str, dict[str, Any]] = {labelled.name: {} for labelled in sets}
    for method in methods:
        ranked = [
            ranked_claims(c, hybrid[i] if method == "hybrid" else method_scores(method, c))
            for i, (_, _, c) in enumerate(pooled)
        ]
        top = np.asarray([score for _, score in ranked])
        correct = np.asarray(
            [
                bool(r[:1]) and r[0] in q.gold
                for (r, _), (_, q, _) in zip(ranked, pooled, strict=True)
            ]
        )
        no_gold = np.asarray([not q.gold for _, q, _ in pooled])
        thresholds[method] = {
            "suggest": choose_threshold(
                top, correct, no_gold, SUGGEST_PRECISION, SUGGEST_FALSE_RATE
            ),
            "strong": choose_threshold(top, correct, no_gold, STRONG_PRECISION, STRONG_FALSE_RATE),
        }
        for labelled in sets:
            rows = [i for i, (name, _, _) in enumerate(pooled) if name == labelled.name]
            report[labelled.name][method] = retrieval_metrics(
                [ranked[i][0] for i in rows], [ranked[i][1] for i in rows],
                [pooled[i][1] for i in rows], thresholds[method]["suggest"],
            )  # fmt: skip
    final = Fusion.fit(
        [c for _, _, c in pooled], [set(q.gold) for _, q, _ in pooled], vectors, weight
    )
    suggest, strong = thresholds["hybrid"]["suggest"], thresholds["hybrid"]["strong"]
    if suggest is None:
        raise ValueError("no suggest threshold reaches the target precision on this data")
    policy = MatchPolicy(
        suggest=round(suggest, 4), strong=round(strong if strong is not None else 1.0, 4)
    )
    fingerprint = hashlib.sha256(json.dumps(final.to_json()).encode()).hexdigest()[:8]
    card = {
        "model": "canhbao-claim-matcher",
        "version": f"{utc_now():%Y%m%d}-{fingerprint}",
        "created_at": utc_now().isoformat(),
        "encoder": embedder.name if embedder else None,
        "fusion": final.to_json(),
        "policy": policy.to_json(),
        "targets": {
            "suggest": {"precision": SUGGEST_PRECISION, "no_gold_matched": SUGGEST_FALSE_RATE},
            "strong": {"precision": STRONG_PRECISION, "no_gold_matched": STRONG_FALSE_RATE},
        },
        "thresholds_by_method": thresholds,
        "dev": report,
        "training_seconds": round(time.perf_counter() - started, 1),
        "note": "Dev metrics are cross-fitted (two folds by query). Fitted on research datasets:"
        " a build output, never commit it.",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    lexical.save(out_dir)
    (out_dir / MATCHER_FILE).write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return card
