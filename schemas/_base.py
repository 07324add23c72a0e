"""Shared building blocks for the record contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Every timestamp that crosses a boundary is timezone-aware and stored in UTC; display code
# converts to Asia/Ho_Chi_Minh. Naive datetimes are refused rather than guessed.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Contract(BaseModel):
    """Base of every boundary record: immutable, no unknown fields, no silent coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def utc_now() -> datetime:
    return datetime.now(UTC)
