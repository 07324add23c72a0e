"""Shared building blocks for the record contracts."""

from __future__ import annotations

import re
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


# Characters that reorder or hide text without showing themselves: bidi embeddings, overrides
# and isolates, and marks. "gpj.exe" under U+202E displays as "exe.jpg".
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def show_bidi_controls(text: str) -> str:
    """Each bidi control replaced by a visible `⟦U+202E⟧`, so what a reader sees is what is
    there."""
    return BIDI_CONTROLS.sub(lambda m: f"⟦U+{ord(m.group(0)):04X}⟧", text)


def utc_text(moment: datetime) -> str:
    """A timestamp as fixed-width UTC text (`2026-12-01T17:00:00.000000+00:00`), so stores that
    compare text compare instants: `+07:00` and `Z` spellings of one moment sort as one."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def utc_now() -> datetime:
    return datetime.now(UTC)
