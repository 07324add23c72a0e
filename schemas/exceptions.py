"""The project's exception tree. Every error canhbao raises derives from `CanhbaoError`.

CanhbaoError
├── ContractError              (schemas)   a record does not fit its contract
├── ingest.IngestError                     reading an input source failed
├── classifiers.ClassifierError            loading, training or running a model failed
│   └── classifiers.ModelNotFoundError
├── stream_jobs.PipelineError              the pipeline cannot go on
│   └── stream_jobs.RejectedRecord         one record can never be processed: dead-letter it
└── alerting.AlertingError                 review store and API
    ├── alerting.AlertNotFound
    ├── alerting.DecisionConflict          someone else decided first
    └── alerting.InvalidDecision
"""

from __future__ import annotations

__all__ = ["CanhbaoError", "ContractError"]


class CanhbaoError(Exception):
    """Base of every error raised by canhbao."""


class ContractError(CanhbaoError):
    """A record does not fit its contract; the message names the fields at fault."""
