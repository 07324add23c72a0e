"""What the review API shows: alerts with their evidence, never an author.

The pseudonymous `author_ref` stays in the store for deduplication only; it is not served, so
the review tools cannot be turned into a per-person view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerting.store import AlertDetail
from schemas import Alert, AuditEvent, NormalizedPost

__all__ = ["LOCAL_TZ", "alert_view", "audit_view", "detail_view", "local_display", "local_time"]

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local_time(moment: datetime | None) -> str | None:
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if moment else None


def local_display(moment: datetime | None, with_time: bool = True) -> str:
    """As people read it here: 29/11/2026 21:00, local time; "—" when there is none."""
    if moment is None:
        return "—"
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def alert_view(alert: Alert) -> dict[str, Any]:
    view = alert.model_dump(mode="json")
    view["created_at_local"] = local_time(alert.created_at)
    return view


def _post_view(post: NormalizedPost) -> dict[str, Any]:
    raw = post.raw
    return {
        "post_id": post.post_id,
        "platform": raw.platform.value,
        "kind": raw.kind.value,
        "source_id": raw.source_id,
        "url": raw.url,
        "title": post.title,
        "text": post.text,
        "language": post.language,
        "published_at": raw.published_at.isoformat() if raw.published_at else None,
        "published_at_local": local_time(raw.published_at),
        "collected_at": raw.collected_at.isoformat(),
        "engagement": raw.engagement.model_dump(),
        "cluster_id": post.cluster_id,
        "duplicate_kind": post.duplicate_kind.value if post.duplicate_kind else None,
    }


def detail_view(detail: AlertDetail, audit: list[AuditEvent]) -> dict[str, Any]:
    classification = detail.classification
    return {
        "alert": alert_view(detail.alert),
        "post": _post_view(detail.post),
        "classification": classification.model_dump(mode="json") if classification else None,
        "duplicates": [_post_view(d) for d in detail.duplicates],
        "decisions": [d.model_dump(mode="json") for d in detail.decisions],
        "audit": [audit_view(e) for e in audit],
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    view = event.model_dump(mode="json")
    view["at_local"] = local_time(event.at)
    return view
