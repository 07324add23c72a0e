"""Review queue: alert store backends and the review API."""

from alerting.api import create_app
from alerting.exceptions import (
    AlertingError,
    AlertNotFound,
    DecisionConflict,
    StoreError,
)

__all__ = [
    "AlertNotFound",
    "AlertingError",
    "DecisionConflict",
    "StoreError",
    "create_app",
]
