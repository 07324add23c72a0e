"""Alerts in the review queue and the analysts' decisions on them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from schemas._base import BIDI_CONTROLS, Contract, UtcDatetime
from schemas.classification import Label

__all__ = [
    "DESTINATION_CONG_AN",
    "DESTINATION_SO_TTTT",
    "Alert",
    "AlertStatus",
    "AnalystDecision",
    "DecisionAction",
    "Destination",
    "Severity",
]

# Destinations are configurable names; these two are the agencies' queues every deployment has:
# Công an (police) and Sở TT&TT (the city's Department of Information and Communications).
Destination = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
DESTINATION_CONG_AN = "cong_an"
DESTINATION_SO_TTTT = "so_tttt"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class AlertStatus(StrEnum):
    PENDING = "pending_review"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


class Alert(Contract):
    """A flagged post waiting for (or past) an analyst's decision.

    `destination_candidates` are suggestions for the analyst. Nothing is delivered to an agency
    unless an analyst confirms the alert and chooses the destinations (`AnalystDecision`)."""

    schema_version: Literal[1] = 1
    alert_id: str = Field(pattern=r"^al_[0-9a-f]{32}$")
    post_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    labels: list[Label] = Field(min_length=1)
    scores: dict[Label, float]
    severity: Severity
    cluster_id: str
    status: AlertStatus = AlertStatus.PENDING
    destination_candidates: list[Destination] = Field(default_factory=list)
    model_version: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(default=1, ge=1, description="bumped on every change; for concurrency")
    assignee: str | None = Field(default=None, description="the analyst working on it")
    claimed_until: UtcDatetime | None = Field(
        default=None, description="the claim lapses then, and others may take the alert"
    )


class DecisionAction(StrEnum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    ESCALATE = "escalate"


class AnalystDecision(Contract):
    """An analyst's explicit decision on one alert. Required before any delivery."""

    schema_version: Literal[1] = 1
    alert_id: str = Field(pattern=r"^al_[0-9a-f]{32}$")
    action: DecisionAction
    analyst: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=3, max_length=2000)
    category: Label | None = None
    destinations: list[Destination] = Field(default_factory=list)
    fact_check_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    decided_at: UtcDatetime

    @field_validator("reason", mode="before")
    @classmethod
    def _no_bidi_in_reason(cls, value: object) -> object:
        # Reordering controls in a reason can make it read as something else in the audit log.
        return BIDI_CONTROLS.sub("", value) if isinstance(value, str) else value

    @field_validator("fact_check_url")
    @classmethod
    def _no_bidi_in_url(cls, value: str | None) -> str | None:
        if value is not None and BIDI_CONTROLS.search(value):
            raise ValueError("the link contains invisible direction controls")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AnalystDecision:
        if self.action is DecisionAction.CONFIRM and self.category is None:
            raise ValueError("a confirmation needs a category")
        if self.action is not DecisionAction.CONFIRM and self.destinations:
            raise ValueError("only a confirmation can name destinations")
        if len(set(self.destinations)) != len(self.destinations):
            raise ValueError("destinations repeat")
        return self
