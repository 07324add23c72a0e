"""What an agency receives: one confirmed alert, as the analyst decided it.

Sent to a destination's Kafka topic, webhook or mailbox only after an analyst confirmed the
alert and chose that destination. `delivery_id` is stable (alert × destination), so a receiver
that sees it twice — after a retry whose first answer was lost — can drop the copy. No author
identity travels: the public URL is the evidence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime
from schemas.alerts import Severity
from schemas.classification import Label
from schemas.posts import Platform, PostKind

__all__ = ["DeliveryMessage", "delivery_id_for"]


def delivery_id_for(alert_id: str, destination: str) -> str:
    return f"dl_{alert_id.removeprefix('al_')}_{destination}"


class DeliveryMessage(Contract):
    schema_version: Literal[1] = 1
    kind: Literal["alert", "summary"] = "alert"
    delivery_id: str = Field(pattern=r"^dl_[0-9a-z_]+$")
    destination: str
    alert_ids: list[str] = Field(min_length=1, description="one; a flood summary lists many")
    category: Label | None = None
    labels: list[Label] = Field(default_factory=list)
    severity: Severity | None = None
    platform: Platform | None = None
    post_kind: PostKind | None = None
    url: str | None = Field(default=None, description="the public post, as evidence")
    excerpt: str = Field(max_length=1000)
    published_at: UtcDatetime | None = None
    reason: str = Field(description="the analyst's note")
    fact_check_url: str | None = None
    decided_at: UtcDatetime
    review_url: str | None = Field(default=None, description="the alert in the review UI")
