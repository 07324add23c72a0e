"""A *hard* claim-retrieval dev set from story clusters: the same event told by different
outlets in their own words. Per cluster, the earliest article's lead is the library's claim and
the other articles' leads are queries whose gold is that claim; the clusters of a held-out share
get no claim, so their queries are "no known claim" (gold empty) about an event close to others.
Leads lose their agency prefix ("TTO - ", "(Dân trí) -"), which would otherwise give the source
away instead of the content."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

from alerting.claims.evaluate import LabelledQuery
from alerting.exceptions import ClaimError
from classifiers.text import normalize_text

__all__ = ["story_lead_set", "strip_agency_prefix"]

_AGENCY_RE = re.compile(r"^\s*(?:\(\s*[\w. ]{2,24}\s*\)|[\w.]{2,16})\s*[-–—]\s+")


def strip_agency_prefix(lead: str) -> str:
    return _AGENCY_RE.sub("", lead, count=1)


def _held_out(cluster_id: str, share: float) -> bool:
    digest = hashlib.sha256(cluster_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def story_lead_set(
    docs: Path, no_claim_share: float = 0.3
) -> tuple[list[tuple[str, str]], list[LabelledQuery]]:
    if not docs.is_file():
        raise ClaimError(f"file not found: {docs}")
    clusters: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in docs.read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            if str(doc.get("lead") or "").strip():
                clusters[str(doc["cluster_id"])].append(doc)
    claims: list[tuple[str, str]] = []
    queries: list[LabelledQuery] = []
    for cluster_id in sorted(clusters):
        members = sorted(
            clusters[cluster_id], key=lambda d: (d.get("published") or "", d["doc_id"])
        )
        if len(members) < 2:
            continue
        texts = [normalize_text(strip_agency_prefix(d["lead"])) for d in members]
        has_claim = not _held_out(cluster_id, no_claim_share)
        claim_id = f"story-{cluster_id}"
        if has_claim:
            claims.append((claim_id, texts[0]))
        gold = frozenset({claim_id}) if has_claim else frozenset()
        for doc, text in zip(members[1:], texts[1:], strict=True):
            queries.append(LabelledQuery(f"q-{doc['doc_id']}", text, gold))
    return claims, queries
