"""Records the pipeline could not process, kept with their reason and original bytes."""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime

__all__ = ["DeadLetter", "RejectReason"]


class RejectReason(StrEnum):
    INVALID_UTF8 = "invalid_utf8"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    SCHEMA_VIOLATION = "schema_violation"  # missing fields, wrong types, bad values
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LARGE = "text_too_large"
    CONTROL_CHARACTERS = "control_characters"
    HTML_IN_TEXT = "html_in_text"
    PROCESSING_ERROR = "processing_error"  # a stage failed on this record
    RECORD_TOO_LARGE = "record_too_large"  # over what one Kafka message may carry


class DeadLetter(Contract):
    schema_version: Literal[1] = 1
    stage: str
    reason_code: RejectReason
    reason: str = Field(description="human-readable: what is wrong and where")
    origin: str = Field(description="where the record came from: file:line, topic/partition@offset")
    original_b64: str = Field(description="the record's original bytes, base64")
    at: UtcDatetime
    # Set on a copy cut to fit a bus message (`bounded`); the store keeps the whole record.
    truncated: bool = False
    original_size: int | None = Field(default=None, ge=0, description="bytes, when truncated")
    original_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @property
    def key(self) -> str:
        """Identity for idempotent storage: the same bytes at the same origin, rejected for the
        same reason, is one dead letter however often a replay delivers it."""
        raw = f"{self.origin}\x1f{self.reason_code.value}\x1f{self.original_b64}"
        return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    @staticmethod
    def encode(original: bytes) -> str:
        return base64.b64encode(original).decode("ascii")

    def bounded(self, max_original_bytes: int) -> DeadLetter:
        """This letter, or a copy whose original is cut to `max_original_bytes` with the whole
        record's size and SHA-256, so that it fits one bus message (base64 adds a third)."""
        original = self.original
        if len(original) <= max_original_bytes:
            return self
        return self.model_copy(
            update={
                "original_b64": self.encode(original[:max_original_bytes]),
                "truncated": True,
                "original_size": len(original),
                "original_sha256": hashlib.sha256(original).hexdigest(),
            }
        )
