"""Stage: which classified posts become alerts, how severe, and which agencies to suggest.

Suggestions only. An alert's `destination_candidates` help the analyst; delivery to Công an or
Sở TT&TT happens only after an analyst confirms the alert and picks the destinations, and no
setting here can change that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas import (
    DESTINATION_CONG_AN,
    DESTINATION_SO_TTTT,
    Alert,
    Classification,
    Evidence,
    EvidenceKind,
    Label,
    NormalizedPost,
    Severity,
)

__all__ = ["RoutingPolicy", "alert_id_for", "claim_severity", "route", "severity_for"]

_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


def _default_base_severity() -> dict[Label, Severity]:
    return {
        Label.HATE: Severity.HIGH,
        Label.MISINFORMATION: Severity.HIGH,
        Label.OFFENSIVE: Severity.MEDIUM,
        Label.TOXIC: Severity.MEDIUM,
        Label.CLICKBAIT: Severity.LOW,
        Label.SPAM: Severity.LOW,
    }


def _default_destinations() -> dict[Label, tuple[str, ...]]:
    return {
        Label.HATE: (DESTINATION_CONG_AN, DESTINATION_SO_TTTT),
        Label.MISINFORMATION: (DESTINATION_SO_TTTT,),
        Label.OFFENSIVE: (DESTINATION_SO_TTTT,),
        Label.TOXIC: (DESTINATION_SO_TTTT,),
        Label.CLICKBAIT: (DESTINATION_SO_TTTT,),
        Label.SPAM: (DESTINATION_SO_TTTT,),
    }


@dataclass(frozen=True)
class RoutingPolicy:
    min_severity: Severity = Severity.MEDIUM  # below this a flag is recorded but not queued
    base_severity: dict[Label, Severity] = field(default_factory=_default_base_severity)
    destinations: dict[Label, tuple[str, ...]] = field(default_factory=_default_destinations)
    high_confidence: float = 0.9  # a score this sure raises severity one step
    viral_shares: int = 1_000  # so does reach: a widely shared post does more harm


def severity_for(label: Label, score: float, shares: int | None, policy: RoutingPolicy) -> Severity:
    rank = _ORDER.index(policy.base_severity[label])
    if score >= policy.high_confidence:
        rank += 1
    if shares is not None and shares >= policy.viral_shares:
        rank += 1
    return _ORDER[min(rank, len(_ORDER) - 1)]


def alert_id_for(post_id: str) -> str:
    # Derived from the post id so that reprocessing a post can never create a second alert.
    return f"al_{post_id}"


def claim_severity(evidence: Evidence, policy: RoutingPolicy) -> Severity:
    """A strong match to a published false claim weighs like a misinformation flag; a
    suggestion one step less (an analyst still has to read it)."""
    base = _ORDER.index(policy.base_severity[Label.MISINFORMATION])
    return _ORDER[base if evidence.strength == "strong" else max(base - 1, 0)]


def route(
    post: NormalizedPost, result: Classification, policy: RoutingPolicy, now: datetime
) -> Alert | None:
    claims = [e for e in result.evidence if e.kind is EvidenceKind.CLAIM]
    labels = list(result.labels)
    if claims and Label.MISINFORMATION not in labels:
        labels.append(Label.MISINFORMATION)  # a repeat of a known false claim is misinformation
    if not labels:
        return None
    shares = post.raw.engagement.shares
    severities = [
        severity_for(label, result.scores[label], shares, policy) for label in result.labels
    ]
    severities += [claim_severity(e, policy) for e in claims]
    severity = max(severities, key=lambda s: s.rank)
    if severity.rank < policy.min_severity.rank:
        return None
    scores = {label: result.scores.get(label, 0.0) for label in labels}
    candidates: list[str] = []
    for label in labels:
        for destination in policy.destinations.get(label, ()):
            if destination not in candidates:
                candidates.append(destination)
    return Alert(
        alert_id=alert_id_for(post.post_id),
        post_id=post.post_id,
        labels=sorted(labels, key=lambda label: -scores[label]),
        scores=scores,
        severity=severity,
        cluster_id=post.cluster_id,
        destination_candidates=candidates,
        model_version=result.model_version,
        created_at=now,
        updated_at=now,
    )
