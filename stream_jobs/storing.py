"""Handing a processed batch to the review store, shared by the embedded runner and the worker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from alerting.exceptions import StoreError
from alerting.store import AlertStore, StoredBatch
from stream_jobs.pipeline import BatchResult

__all__ = ["stored_batch", "write_until_stored"]

log = logging.getLogger(__name__)


def stored_batch(result: BatchResult) -> StoredBatch:
    return StoredBatch(
        result.posts,
        result.duplicates,
        result.classifications,
        result.alerts,
        result.dead_letters,
        result.signatures,
    )


def write_until_stored(
    store: AlertStore,
    result: BatchResult,
    sleep: Callable[[float], None] = time.sleep,
    max_backoff_s: float = 30.0,
) -> int:
    """Store a batch, retrying with exponential backoff for as long as the store is down."""
    batch = stored_batch(result)
    delay = 0.5
    while True:
        try:
            return store.write_batch(batch)
        except StoreError as exc:
            log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
            sleep(delay)
            delay = min(delay * 2, max_backoff_s)
