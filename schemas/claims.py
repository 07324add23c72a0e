"""Known false claims and their official rebuttals (the claim library's records)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime

__all__ = ["Claim", "ClaimDraft", "ClaimRating", "ClaimStatus", "Rebuttal"]

_URL = r"^https?://[^\s/$.?#][^\s]*$"


class ClaimStatus(StrEnum):
    DRAFT = "draft"  # being written; matched by nothing
    PUBLISHED = "published"  # a supervisor published it: matched, shown on the public page
    RETIRED = "retired"  # no longer matched or shown; kept with its history


class ClaimRating(StrEnum):
    FALSE = "false"
    MISLEADING = "misleading"
    MISSING_CONTEXT = "missing_context"
    UNPROVEN = "unproven"


class Rebuttal(Contract):
    """The official correction: what the issuing body said, where and when."""

    text: str = Field(min_length=1, max_length=5000)
    issuer: str = Field(min_length=1, max_length=200, description="the body that issued it")
    url: str = Field(pattern=_URL, max_length=2000, description="the official page")
    published_on: date


class ClaimDraft(Contract):
    """What a person (or an import) supplies; the library adds ids, status and history."""

    statement: str = Field(min_length=1, max_length=1000)
    variants: list[str] = Field(default_factory=list, max_length=20)
    rating: ClaimRating = ClaimRating.FALSE
    rebuttal: Rebuttal | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    appearances: list[str] = Field(
        default_factory=list, max_length=50, description="public URLs where it was seen"
    )
    source_alert_id: str | None = Field(default=None, description="the alert it was made from")


class Claim(ClaimDraft):
    schema_version: Literal[1] = 1
    claim_id: str = Field(pattern=r"^clm-[0-9a-f]{16}$")
    version: int = Field(ge=1)
    status: ClaimStatus
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
