"""Collector metrics, declared once; one registry per process (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CollectorMetrics"]


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.fetched = Counter(
            "canhbao_collector_items_fetched",
            "Items seen in feeds and API pages",
            ["source"],
            registry=r,
        )
        self.new = Counter(
            "canhbao_collector_items_new", "Items delivered to the bus", ["source"], registry=r
        )
        self.duplicate = Counter(
            "canhbao_collector_items_duplicate",
            "Items already delivered before",
            ["source"],
            registry=r,
        )
        self.errors = Counter(
            "canhbao_collector_errors", "Failures by reason", ["source", "reason"], registry=r
        )
        self.deferred = Counter(
            "canhbao_collector_items_deferred",
            "Article URLs that failed for good this time (404, too large, redirect loop);"
            " retried later with backoff",
            ["source", "reason"],
            registry=r,
        )
        self.skipped = Counter(
            "canhbao_collector_items_skipped",
            "Listed items deliberately not fetched (outside the freshness window, deferred)",
            ["source", "reason"],
            registry=r,
        )
        self.requests = Counter(
            "canhbao_collector_http_requests",
            "HTTP exchanges by host and outcome",
            ["host", "outcome"],
            registry=r,
        )
        self.quota_used = Counter(
            "canhbao_collector_quota_units",
            "Platform quota spent (API units or requests)",
            ["source"],
            registry=r,
        )
        self.last_success = Gauge(
            "canhbao_collector_last_success_timestamp",
            "When a collection last completed",
            ["source"],
            registry=r,
        )
        self.lag = Histogram(
            "canhbao_collector_lag_seconds",
            "Publication → collection delay of new items",
            ["source"],
            buckets=(30, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400),
            registry=r,
        )
        self.collection_seconds = Histogram(
            "canhbao_collector_collection_seconds",
            "Time to collect one source once",
            ["source"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
