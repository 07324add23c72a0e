"""Retrieval metrics of the CheckThat! "previously fact-checked claims" task: success@k (a gold
claim among the first k) and MAP@5 over queries that have gold claims; for queries with none
("no known claim"), the share left unmatched at the *suggest* threshold."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alerting.exceptions import ClaimError

__all__ = ["LabelledQuery", "average_precision_at", "read_claims_jsonl", "read_queries",
           "retrieval_metrics"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    query_id: str
    text: str
    gold: frozenset[str]


def read_queries(path: Path) -> list[LabelledQuery]:
    out = []
    for line_no, record in _jsonl(path):
        try:
            gold = record.get("gold_claim_ids") or []
            if not isinstance(gold, list):
                raise TypeError("gold_claim_ids must be a list")
            out.append(LabelledQuery(str(record["query_id"]), str(record["text"]),
                                     frozenset(str(g) for g in gold)))  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise ClaimError(f"{path}:{line_no}: not a query ({exc})") from exc
    return out


def read_claims_jsonl(path: Path) -> list[tuple[str, str]]:
    out = []
    for line_no, record in _jsonl(path):
        try:
            out.append((str(record["claim_id"]), str(record["text"])))
        except (KeyError, TypeError) as exc:
            raise ClaimError(f"{path}:{line_no}: not a claim ({exc})") from exc
    return out


def _jsonl(path: Path) -> list[tuple[int, dict[str, object]]]:
    if not path.is_file():
        raise ClaimError(f"file not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ClaimError(f"{path}:{line_no}: not JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise ClaimError(f"{path}:{line_no}: not a JSON object")
            rows.append((line_no, record))
    return rows


def average_precision_at(ranked: Sequence[str], gold: frozenset[str], k: int = 5) -> float:
    hits, total = 0, 0.0
    for i, claim_id in enumerate(ranked[:k], 1):
        if claim_id in gold:
            hits += 1
            total += hits / i
    return total / min(len(gold), k) if gold else 0.0


def retrieval_metrics(
    ranked: Sequence[Sequence[str]],
    top_scores: Sequence[float],
    queries: Sequence[LabelledQuery],
    suggest: float | None,
) -> dict[str, float | int | None]:
    with_gold = [(r, q) for r, q in zip(ranked, queries, strict=True) if q.gold]
    no_gold = [s for s, q in zip(top_scores, queries, strict=True) if not q.gold]
    gold_top = [s for s, q in zip(top_scores, queries, strict=True) if q.gold]
    n = len(with_gold)

    right_at_suggest = None
    if n and suggest is not None:
        right = sum(
            bool(r[:1]) and r[0] in q.gold and s >= suggest
            for (r, q), s in zip(with_gold, gold_top, strict=True)
        )
        right_at_suggest = round(right / n, 4)

    def success(k: int) -> float | None:
        return round(sum(bool(set(r[:k]) & q.gold) for r, q in with_gold) / n, 4) if n else None

    return {
        "queries": len(queries),
        "queries_with_gold": n,
        "success@1": success(1),
        "success@5": success(5),
        "success@10": success(10),
        "map@5": round(sum(average_precision_at(r, q.gold) for r, q in with_gold) / n, 4)
        if n
        else None,
        "matched_right_at_suggest": right_at_suggest,
        "no_gold_queries": len(no_gold),
        "no_gold_unmatched_at_suggest": (
            round(sum(s < suggest for s in no_gold) / len(no_gold), 4)
            if no_gold and suggest is not None
            else None
        ),
    }
