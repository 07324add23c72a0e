"""Pipeline metrics, declared once. Each runner gets its own registry (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream_jobs.pipeline import BatchResult

__all__ = ["PipelineMetrics"]


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.posts_in = Counter("canhbao_posts_in", "Records read from the input", registry=r)
        self.processed = Counter(
            "canhbao_posts_processed", "New posts normalised and classified", registry=r
        )
        self.duplicates = Counter(
            "canhbao_duplicates", "Duplicate posts by kind", ["kind"], registry=r
        )
        self.dead_letters = Counter(
            "canhbao_dead_letters", "Rejected records by reason", ["reason"], registry=r
        )
        self.skipped = Counter(
            "canhbao_unclassified", "Posts no model could read, by reason", ["reason"], registry=r
        )
        self.flags = Counter("canhbao_flags", "Decided labels", ["label"], registry=r)
        self.alerts = Counter("canhbao_alerts_queued", "Alerts newly queued for review", registry=r)
        self.batch_seconds = Histogram(
            "canhbao_batch_seconds",
            "Time to process and store one batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.consumer_lag = Gauge(
            "canhbao_consumer_lag",
            "Records on the broker not yet fetched by this worker (excludes the batch in hand)",
            ["topic", "partition"],
            registry=r,
        )
        self.dedup_index_size = Gauge(
            "canhbao_dedup_index_posts", "Posts held in the dedup index", registry=r
        )

    def observe(self, result: BatchResult, records: int, new_alerts: int, seconds: float) -> None:
        self.posts_in.inc(records)
        self.processed.inc(len(result.posts))
        for post in result.duplicates:
            assert post.duplicate_kind is not None
            self.duplicates.labels(post.duplicate_kind.value).inc()
        for letter in result.dead_letters:
            self.dead_letters.labels(letter.reason_code.value).inc()
        for classification in result.classifications:
            if classification.skipped is not None:
                self.skipped.labels(classification.skipped.value).inc()
            for label in classification.labels:
                self.flags.labels(label.value).inc()
        self.alerts.inc(new_alerts)
        self.batch_seconds.observe(seconds)
