"""File import: JSON Lines or CSV of posts (`canhbao import FILE`).

JSONL lines are handed on undecoded (see `read_jsonl`). A CSV row becomes a `RawPost`-shaped
JSON object: columns named like the contract's fields (`platform`, `source_id`, `external_id`,
`url`, `text`, `title`, `kind`, `published_at`, `author_handle`, …; `likes`, `comments`,
`shares`, `views` for engagement); empty cells are absent values. Validation is the pipeline's:
a bad row reaches the dead letters with its line number and reason, like any other record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ingest.exceptions import IngestError
from ingest.jsonl import read_jsonl
from stream_jobs.pipeline import InboundRecord

__all__ = ["read_csv", "read_posts_file"]

_ENGAGEMENT = ("likes", "comments", "shares", "views")
_MAX_FIELD = 1_000_000  # csv's default (128 kB) would refuse long articles


def _row_record(
    row: dict[str | None, str | list[str] | None] | dict[str, str], collected_at: str
) -> dict[str, object]:
    record: dict[str, object] = {}
    engagement: dict[str, object] = {}
    for name, value in row.items():
        if name is None:  # more cells than header columns: let validation say so
            record["_extra_cells"] = value
            continue
        name = name.strip()
        if value is None or value == "":
            continue
        if name in _ENGAGEMENT:
            engagement[name] = int(value) if isinstance(value, str) and value.isdigit() else value
        else:
            record[name] = value
    if engagement:
        record["engagement"] = engagement
    record.setdefault("collected_at", collected_at)
    return record


def read_csv(path: Path, limit: int | None = None) -> Iterator[InboundRecord]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: CSV must be UTF-8 ({exc})") from exc
    csv.field_size_limit(_MAX_FIELD)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "text" not in [f.strip() for f in reader.fieldnames]:
        raise IngestError(f"{path}: CSV needs a header row with at least a `text` column")
    collected_at = datetime.now(UTC).isoformat()
    count = 0
    while limit is None or count < limit:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The row is unreadable; hand on what we know so the dead letters record it.
            row = {"_csv_error": f"broken CSV row: {exc}"}
        count += 1
        data = json.dumps(_row_record(row, collected_at), ensure_ascii=False).encode("utf-8")
        yield InboundRecord(f"{path.name}:{reader.line_num}", data)


def read_posts_file(path: Path, limit: int | None = None) -> Iterator[InboundRecord]:
    """JSONL or CSV, by extension (`.csv`; anything else is read as JSON Lines)."""
    if path.suffix.lower() == ".csv":
        return read_csv(path, limit)
    return read_jsonl(path, limit)
