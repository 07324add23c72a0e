"""Collectors and intake: public posts in, onto the bus."""

from importlib.resources import files
from pathlib import Path

from ingest.exceptions import IngestError
from ingest.jsonl import read_jsonl

__all__ = ["IngestError", "read_jsonl", "sample_posts_path"]


def sample_posts_path() -> Path:
    """The bundled sample: ~150 hand-written posts covering every outcome of the pipeline."""
    return Path(str(files("ingest") / "samples" / "sample_posts.jsonl"))
