"""Collectors and intake: public posts in, onto the bus."""

from importlib.resources import files
from pathlib import Path

from ingest.exceptions import IngestError
from ingest.fileimport import read_csv, read_posts_file
from ingest.jsonl import read_jsonl

__all__ = [
    "IngestError",
    "read_csv",
    "read_jsonl",
    "read_posts_file",
    "sample_posts_path",
    "starter_sources_path",
]


def sample_posts_path() -> Path:
    """The bundled sample: ~150 hand-written posts covering every outcome of the pipeline."""
    return Path(str(files("ingest") / "samples" / "sample_posts.jsonl"))


def starter_sources_path() -> Path:
    """The bundled `sources.yaml`: public RSS feeds of major Vietnamese outlets."""
    return Path(str(files("ingest") / "sources.yaml"))
