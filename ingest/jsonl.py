"""File intake: JSON Lines of posts (one `RawPost`-shaped object per line).

Lines are handed on as raw bytes, undecoded, so that a broken line reaches the dead letters
exactly as it was written. Blank lines are separators, not records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.exceptions import IngestError
from stream_jobs.pipeline import InboundRecord

__all__ = ["read_jsonl"]


def read_jsonl(path: Path, limit: int | None = None) -> Iterator[InboundRecord]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror}") from exc
    count = 0
    with handle:
        for number, line in enumerate(handle, start=1):
            data = line.rstrip(b"\r\n")
            if not data.strip():
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield InboundRecord(f"{path.name}:{number}", data)
