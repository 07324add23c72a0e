"""Errors of the collectors and intake (see `schemas.exceptions` for the whole tree)."""

from __future__ import annotations

from schemas.exceptions import CanhbaoError

__all__ = ["IngestError"]


class IngestError(CanhbaoError):
    """Reading an input source failed."""
