"""Digests: local-day periods, counts and changes, top stories, escaping, no authors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alerting.digests import Period, bar_chart, build_digest, period_bounds, render_html
from schemas import (
    Alert,
    AlertStatus,
    Engagement,
    Label,
    NormalizedPost,
    Platform,
    RawPost,
    Severity,
)

T0 = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)  # 00:00 on 29/11 in Ho Chi Minh City


def post(i: int, text: str, shares: int = 0) -> NormalizedPost:
    raw = RawPost(
        platform=Platform.FACEBOOK,
        source_id="s",
        external_id=str(i),
        url=f"https://facebook.example.vn/{i}",
        text=text,
        collected_at=T0,
        author_ref="ph1_" + "0" * 32,
        engagement=Engagement(shares=shares),
    )
    return NormalizedPost(
        post_id=raw.post_id,
        raw=raw,
        text=text,
        folded=text,
        language="vi",
        language_confidence=1.0,
        content_hash="0" * 40,
        cluster_id=raw.post_id,
        normalized_at=T0,
    )


def alert(
    p: NormalizedPost,
    at: datetime,
    status: AlertStatus,
    label: Label = Label.HATE,
    severity: Severity = Severity.HIGH,
    decided: datetime | None = None,
) -> Alert:
    return Alert(
        alert_id="al_" + p.post_id,
        post_id=p.post_id,
        labels=[label],
        scores={label: 0.9},
        severity=severity,
        cluster_id=p.post_id,
        status=status,
        model_version="m",
        created_at=at,
        updated_at=decided or at,
    )


def test_periods_are_local_days_and_monday_weeks() -> None:
    start, end = period_bounds(Period.DAY, date(2026, 11, 29))
    assert (start.astimezone(UTC), end - start) == (T0, timedelta(days=1))
    week_start, week_end = period_bounds(Period.WEEK, date(2026, 11, 29))  # a Sunday
    assert week_start.date() == date(2026, 11, 23)
    assert week_start.weekday() == 0
    assert week_end - week_start == timedelta(days=7)


def test_counts_changes_and_top_stories() -> None:
    start, end = T0, T0 + timedelta(days=1)
    posts = [
        post(1, "bọn này <b>ngu</b>", shares=5),
        post(2, "tin đồn", shares=900),
        post(3, "quảng cáo"),
        post(4, "hôm qua"),
    ]
    alerts = [
        alert(
            posts[0],
            T0 + timedelta(hours=1),
            AlertStatus.CONFIRMED,
            decided=T0 + timedelta(hours=2),
        ),
        alert(
            posts[1],
            T0 + timedelta(hours=3),
            AlertStatus.CONFIRMED,
            Label.MISINFORMATION,
            Severity.CRITICAL,
            decided=T0 + timedelta(hours=4),
        ),
        alert(posts[2], T0 + timedelta(hours=5), AlertStatus.PENDING, Label.SPAM, Severity.MEDIUM),
        alert(
            posts[3],
            T0 - timedelta(hours=2),
            AlertStatus.DISMISSED,
            decided=T0 + timedelta(hours=1),
        ),
    ]
    by_id = {p.post_id: p for p in posts}
    confirmations = {
        alerts[0].alert_id: (Label.HATE, T0 + timedelta(hours=2), None),
        alerts[1].alert_id: (Label.MISINFORMATION, T0 + timedelta(hours=4), "https://fact.vn/1"),
    }
    previous = build_digest(Period.DAY, start - timedelta(days=1), start, [alerts[3]], by_id, {})
    digest = build_digest(Period.DAY, start, end, alerts, by_id, confirmations, previous)
    assert (digest.raised, digest.confirmed, digest.dismissed, digest.open_at_end) == (3, 2, 1, 1)
    assert digest.by_label == {"hate": 1, "misinformation": 1, "spam": 1}
    assert digest.by_day == {"2026-11-29": 3}
    assert digest.change("raised") == 2
    assert digest.change("by_label", "hate") == 0
    assert [s.category for s in digest.stories] == ["misinformation", "hate"]  # severity first
    html = render_html(digest)
    assert "Bản tin tổng hợp cảnh báo" in html
    assert "&lt;b&gt;ngu&lt;/b&gt;" in html  # post text is escaped
    assert "ph1_" not in html  # no author reference, ever
    assert "https://fact.vn/1" in html
    assert "<svg" in html
    assert "+2" in html


def test_chart_escapes_labels() -> None:
    svg = bar_chart([("<script>", 3), ("b", 0)], title="x & y")
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "x &amp; y" in svg
