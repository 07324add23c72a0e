"""Errors of the pipeline (see `schemas.exceptions` for the whole tree).

Flow control is by typed signal: `RejectedRecord` means "never" — this record can not be
processed and goes to the dead letters with its reason; the pipeline carries on.
"""

from __future__ import annotations

from schemas import RejectReason
from schemas.exceptions import CanhbaoError

__all__ = ["BusError", "PipelineError", "RejectedRecord"]


class PipelineError(CanhbaoError):
    """The pipeline cannot go on (configuration, storage or bus failure)."""


class BusError(PipelineError):
    """The message bus failed: unreachable, or a message was not acknowledged."""


class RejectedRecord(PipelineError):
    def __init__(self, code: RejectReason, reason: str, stage: str = "parse") -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason
        self.stage = stage
