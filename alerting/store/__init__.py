"""Review store backends behind one interface."""

from alerting.store.base import (
    AlertDetail,
    AlertPage,
    AlertQuery,
    AlertStore,
    ClaimSighting,
    DedupSeed,
    Processed,
    StoredBatch,
)
from alerting.store.sqlite import SQLiteStore

__all__ = [
    "AlertDetail",
    "AlertPage",
    "AlertQuery",
    "AlertStore",
    "ClaimSighting",
    "DedupSeed",
    "Processed",
    "SQLiteStore",
    "StoredBatch",
]
