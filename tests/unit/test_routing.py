"""Which classified posts become alerts, and the suggested destinations."""

from __future__ import annotations

from datetime import UTC, datetime

from classifiers.text import fold
from schemas import (
    DESTINATION_CONG_AN,
    DESTINATION_SO_TTTT,
    Classification,
    Engagement,
    Label,
    NormalizedPost,
    Platform,
    RawPost,
    Severity,
)
from stream_jobs.routing import RoutingPolicy, alert_id_for, route, severity_for

NOW = datetime(2026, 11, 29, tzinfo=UTC)
POLICY = RoutingPolicy()


def post(shares: int | None = None) -> NormalizedPost:
    raw = RawPost(
        platform=Platform.FACEBOOK,
        source_id="s",
        external_id="1",
        url="https://facebook.example.vn/1",
        text="nội dung",
        collected_at=NOW,
        engagement=Engagement(shares=shares),
    )
    return NormalizedPost(
        post_id=raw.post_id,
        raw=raw,
        text=raw.text,
        folded=fold(raw.text),
        language="vi",
        language_confidence=0.9,
        content_hash="0" * 40,
        cluster_id=raw.post_id,
        normalized_at=NOW,
    )


def classification(p: NormalizedPost, scores: dict[Label, float]) -> Classification:
    thresholds = dict.fromkeys(scores, 0.5)
    return Classification(
        post_id=p.post_id,
        model="m",
        model_version="v1",
        scores=scores,
        thresholds=thresholds,
        labels=[label for label, s in scores.items() if s >= 0.5],
        classified_at=NOW,
    )


def test_unflagged_post_makes_no_alert() -> None:
    p = post()
    assert route(p, classification(p, {Label.HATE: 0.1}), POLICY, NOW) is None


def test_hate_alert_suggests_both_agencies_and_is_pending() -> None:
    p = post()
    alert = route(p, classification(p, {Label.HATE: 0.7, Label.TOXIC: 0.6}), POLICY, NOW)
    assert alert is not None
    assert alert.alert_id == alert_id_for(p.post_id)
    assert alert.severity is Severity.HIGH
    assert alert.labels == [Label.HATE, Label.TOXIC]
    assert alert.destination_candidates == [DESTINATION_CONG_AN, DESTINATION_SO_TTTT]
    assert alert.status.value == "pending_review"


def test_low_severity_labels_are_not_queued() -> None:
    p = post()
    assert route(p, classification(p, {Label.CLICKBAIT: 0.8}), POLICY, NOW) is None


def test_confidence_and_reach_raise_severity() -> None:
    assert severity_for(Label.CLICKBAIT, 0.95, None, POLICY) is Severity.MEDIUM
    assert severity_for(Label.HATE, 0.95, 5000, POLICY) is Severity.CRITICAL
    assert severity_for(Label.MISINFORMATION, 0.6, 1000, POLICY) is Severity.CRITICAL
    assert severity_for(Label.TOXIC, 0.6, 999, POLICY) is Severity.MEDIUM
