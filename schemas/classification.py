"""What a classifier says about one post."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from schemas._base import Contract, UtcDatetime

__all__ = ["Classification", "Evidence", "EvidenceKind", "Label", "SkipReason"]


class Label(StrEnum):
    """The research-defined content labels. There is deliberately no label for political opinion
    or for criticism of the authorities, and none may be added."""

    MISINFORMATION = "misinformation"
    HATE = "hate"
    OFFENSIVE = "offensive"
    TOXIC = "toxic"
    CLICKBAIT = "clickbait"
    SPAM = "spam"


class EvidenceKind(StrEnum):
    NGRAM = "ngram"  # a feature of a linear model, with its contribution
    SPAN = "span"  # a character span of the text
    CLAIM = "claim"  # a published known false claim the post repeats (`claim_id`)


class Evidence(Contract):
    label: Label
    kind: EvidenceKind
    text: str
    weight: float
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)
    claim_id: str | None = Field(default=None, pattern=r"^clm-[0-9a-f]{16}$")
    strength: Literal["suggest", "strong"] | None = Field(
        default=None, description="a claim match's: a suggestion, or a strong match"
    )


class SkipReason(StrEnum):
    NOT_VIETNAMESE = "not_vietnamese"
    NO_TEXT = "no_text"  # nothing a text model can read: emoji-only, one character, …


class Classification(Contract):
    schema_version: Literal[1] = 1
    post_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    model: str
    model_version: str
    scores: dict[Label, float] = Field(description="calibrated probability per label")
    thresholds: dict[Label, float]
    labels: list[Label] = Field(description="labels whose score reached their threshold")
    evidence: list[Evidence] = Field(default_factory=list)
    skipped: SkipReason | None = Field(
        default=None, description="set when no model ran: the post is unclassified, not clean"
    )
    classified_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> Classification:
        for label, score in self.scores.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"score for {label} is {score}, outside [0, 1]")
        missing = [label for label in self.labels if label not in self.scores]
        if missing:
            raise ValueError(f"decided labels without a score: {missing}")
        if self.skipped is not None and self.labels:
            raise ValueError("a skipped post cannot carry decided labels")
        return self
