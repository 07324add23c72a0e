"""The project's exception tree. Every error canhbao raises derives from `CanhbaoError`.

CanhbaoError
├── ingest.IngestError                     reading an input source failed
├── classifiers.ClassifierError            loading, training or running a model failed
│   ├── classifiers.ModelNotFoundError
│   └── classifiers.DatasetError
├── stream_jobs.PipelineError              the pipeline cannot go on
│   ├── stream_jobs.BusError               Kafka unreachable, or a message not acknowledged
│   └── stream_jobs.RejectedRecord         one record can never be processed: dead-letter it
├── canhbao.settings.SettingsError         a setting, or a file it names, is unusable
└── alerting.AlertingError                 review store and API
    ├── alerting.StoreError                the store cannot read or write
    │   └── alerting.AuditTampered         the audit log or its checkpoints do not agree
    ├── alerting.AlertNotFound
    └── alerting.DecisionConflict          someone else decided first

The CLI turns any of them into a one-line message and exit status 1.
"""

from __future__ import annotations

__all__ = ["CanhbaoError"]


class CanhbaoError(Exception):
    """Base of every error raised by canhbao."""
