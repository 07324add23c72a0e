"""A digest for officials: what was flagged and confirmed in a period, and what changed.

Pure: alerts, decisions and posts in; a `Digest` out. Days are local (Asia/Ho_Chi_Minh). Only
content is summarised — labels, platforms, days, stories with excerpts and public links — never
an author: the posts' author references are not read here at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from alerting.views import LOCAL_TZ
from schemas import Alert, AlertStatus, Label, NormalizedPost, Platform

__all__ = ["Digest", "Period", "Story", "build_digest", "period_bounds"]

TOP_STORIES = 10
EXCERPT_CHARS = 280


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"


def period_bounds(period: Period, ending: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local day `ending`, or the local week (Mon–Sun) containing it."""
    if period is Period.DAY:
        first = ending
        days = 1
    else:
        first = ending - timedelta(days=ending.weekday())
        days = 7
    start = datetime.combine(first, time(0), LOCAL_TZ)
    return start, start + timedelta(days=days)


@dataclass(frozen=True)
class Story:
    alert_id: str
    category: str
    labels: tuple[str, ...]
    severity: str
    platform: str
    url: str
    title: str | None
    excerpt: str
    shares: int | None
    confirmed_at: datetime
    fact_check_url: str | None


@dataclass(frozen=True)
class RefutedClaim:
    """A published false claim in the digest: its rebuttal and how often it came back."""

    statement: str
    rating: str
    issuer: str
    rebuttal_url: str
    rebutted_on: date
    reappeared: int  # posts in the period (matched, and stored copies of them)
    platforms: tuple[tuple[str, int], ...]


@dataclass
class Digest:
    period: Period
    start: datetime
    end: datetime
    raised: int = 0
    confirmed: int = 0
    dismissed: int = 0
    open_at_end: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_day: dict[str, int] = field(default_factory=dict)  # local date → alerts raised
    confirmed_by_label: Counter[str] = field(default_factory=Counter)
    stories: list[Story] = field(default_factory=list)
    refuted: list[RefutedClaim] = field(default_factory=list)
    previous: Digest | None = None

    def change(self, attribute: str, key: str | None = None) -> int | None:
        """This period minus the previous one (None when there is no previous period)."""
        if self.previous is None:
            return None
        mine, theirs = getattr(self, attribute), getattr(self.previous, attribute)
        if key is not None:
            return int(mine[key]) - int(theirs[key])
        return int(mine) - int(theirs)


def _local_day(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).date().isoformat()


def build_digest(
    period: Period,
    start: datetime,
    end: datetime,
    alerts: Iterable[Alert],
    posts: Mapping[str, NormalizedPost],
    confirmations: Mapping[str, tuple[Label | None, datetime, str | None]],
    previous: Digest | None = None,
) -> Digest:
    """`alerts`: every alert raised or decided in [start, end) (others are ignored);
    `confirmations`: alert id → (category, decided at, fact-check URL) for confirmed ones."""
    digest = Digest(period, start, end, previous=previous)
    day = start
    while day < end:
        digest.by_day[_local_day(day)] = 0
        day += timedelta(days=1)
    stories: list[tuple[int, int, Story]] = []
    for alert in alerts:
        post = posts.get(alert.post_id)
        if start <= alert.created_at < end:
            digest.raised += 1
            digest.by_label.update(label.value for label in alert.labels)
            digest.by_platform[post.raw.platform.value if post else Platform.OTHER.value] += 1
            digest.by_day[_local_day(alert.created_at)] = (
                digest.by_day.get(_local_day(alert.created_at), 0) + 1
            )
            if alert.status in (AlertStatus.PENDING, AlertStatus.ESCALATED):
                digest.open_at_end += 1
        decided_in_period = start <= alert.updated_at < end
        if alert.status is AlertStatus.DISMISSED and decided_in_period:
            digest.dismissed += 1
        confirmation = confirmations.get(alert.alert_id)
        if (
            alert.status is AlertStatus.CONFIRMED
            and confirmation
            and start <= confirmation[1] < end
        ):
            category, decided_at, fact_check = confirmation
            name = (category or alert.labels[0]).value
            digest.confirmed += 1
            digest.confirmed_by_label[name] += 1
            if post is None:
                continue
            story = Story(
                alert_id=alert.alert_id,
                category=name,
                labels=tuple(label.value for label in alert.labels),
                severity=alert.severity.value,
                platform=post.raw.platform.value,
                url=post.raw.url,
                title=post.title,
                excerpt=post.text[:EXCERPT_CHARS],
                shares=post.raw.engagement.shares,
                confirmed_at=decided_at,
                fact_check_url=fact_check,
            )
            stories.append((alert.severity.rank, post.raw.engagement.shares or 0, story))
    stories.sort(key=lambda s: (s[0], s[1], s[2].confirmed_at), reverse=True)
    digest.stories = [s for _, _, s in stories[:TOP_STORIES]]
    return digest
