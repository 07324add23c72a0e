"""Errors of the review store and API (see `schemas.exceptions` for the whole tree)."""

from __future__ import annotations

from schemas.exceptions import CanhbaoError

__all__ = [
    "AlertNotFound",
    "AlertingError",
    "AuditTampered",
    "ClaimError",
    "ClaimNotFound",
    "DecisionConflict",
    "StoreError",
]


class AlertingError(CanhbaoError):
    """Review store and API errors."""


class StoreError(AlertingError):
    """The store could not read or write (disk, corruption, locked database)."""


class AuditTampered(StoreError):
    """The audit log or its checkpoints do not agree: an entry was changed, removed or forged."""


class AlertNotFound(AlertingError):
    pass


class DecisionConflict(AlertingError):
    """The alert was decided (or changed) by someone else first; nothing was overwritten."""


class ClaimError(AlertingError):
    """A claim, a claim file or an import that cannot be used; says which line and why."""


class ClaimNotFound(ClaimError):
    """No claim with that id in the library."""
