"""The pipeline's stages as plain functions, and the runners that drive them."""

from stream_jobs.exceptions import PipelineError, RejectedRecord
from stream_jobs.pipeline import BatchResult, InboundRecord, PipelineContext, process_batch
from stream_jobs.routing import RoutingPolicy, route

__all__ = [
    "BatchResult",
    "InboundRecord",
    "PipelineContext",
    "PipelineError",
    "RejectedRecord",
    "RoutingPolicy",
    "process_batch",
    "route",
]
