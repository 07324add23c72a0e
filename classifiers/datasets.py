"""Readers for the labelled Vietnamese datasets, in their original column formats.

Each reader returns a `LabelledSet`. Rows whose text is empty are counted in `empty_rows` and
left out, never crashed on. These files are research data: read them where they are, never copy
them into the repository.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from classifiers.exceptions import DatasetError
from schemas import Engagement

__all__ = ["DATASET_READERS", "LabelledSet", "file_sha256", "read_dataset"]

# Some ReINTEL posts are longer than csv's default 128 kB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class LabelledSet:
    name: str
    classes: tuple[str, ...]
    texts: list[str] = field(default_factory=list)
    titles: list[str | None] = field(default_factory=list)
    engagement: list[Engagement] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    empty_rows: int = 0

    def add(
        self, text: str, label: int, title: str | None = None, eng: Engagement | None = None
    ) -> None:
        self.texts.append(text)
        self.titles.append(title)
        self.engagement.append(eng or Engagement())
        self.y.append(label)

    def __len__(self) -> int:
        return len(self.y)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        yield from reader


def _count(value: str | None) -> int | None:
    """ReINTEL's counters hold blanks, floats ('19.0') and junk: keep what is a number."""
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    if math.isnan(number) or number < 0:
        return None
    return int(number)


def _reintel_engagement(row: dict[str, str]) -> Engagement:
    return Engagement(
        likes=_count(row.get("num_like_post")),
        comments=_count(row.get("num_comment_post")),
        shares=_count(row.get("num_share_post")),
    )


def _has_spans(value: str) -> int:
    return 0 if value.strip() in ("", "[]") else 1


@dataclass(frozen=True)
class _Format:
    """One dataset's original columns, and how its label column maps to class indices."""

    classes: tuple[str, ...]
    text: str
    label: str
    label_of: Callable[[str], int] = lambda value: int(float(value))
    title: str | None = None  # this column holds the title; `text` falls back to it
    engagement: Callable[[dict[str, str]], Engagement] | None = None


def _clickbait_label(value: str) -> int:
    classes = ("non-clickbait", "clickbait")
    if value.strip() not in classes:
        raise ValueError(f"unknown clickbait label {value!r}")
    return classes.index(value.strip())


_HSD = _Format(("clean", "offensive", "hate"), "free_text", "label_id")
_FORMATS: dict[str, _Format] = {
    "vihsd": _HSD,
    "vlsp2019": _HSD,
    "victsd": _Format(("non_toxic", "toxic"), "Comment", "Toxicity"),
    "reintel": _Format(
        ("reliable", "unreliable"), "post_message", "label", engagement=_reintel_engagement
    ),
    "viclickbait": _Format(
        ("non-clickbait", "clickbait"), "lead_paragraph", "label", _clickbait_label, "title"
    ),
    "vispamreviews": _Format(("not_spam", "spam"), "Comment", "Label"),
    # Post level: a comment with any hateful/offensive character span is hostile.
    "vihos": _Format(("clean", "hostile"), "content", "index_spans", _has_spans),
}


def _read(name: str, path: Path) -> LabelledSet:
    fmt = _FORMATS[name]
    key = fmt.title or fmt.text  # a headline dataset is keyed on its headline
    out = LabelledSet(name, fmt.classes)
    for row in _rows(path, (key, fmt.label)):
        main = (row[key] or "").strip()
        if not main:
            out.empty_rows += 1
            continue
        title = main if fmt.title else None
        text = (row.get(fmt.text) or "").strip() or main
        eng = fmt.engagement(row) if fmt.engagement else None
        out.add(text, fmt.label_of(row[fmt.label]), title=title, eng=eng)
    return out


DATASET_READERS: dict[str, Callable[[Path], LabelledSet]] = {
    name: functools.partial(_read, name) for name in _FORMATS
}


def read_dataset(name: str, path: Path) -> LabelledSet:
    try:
        reader = DATASET_READERS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {sorted(DATASET_READERS)}") from None
    try:
        return reader(path)
    except (ValueError, csv.Error) as exc:
        raise DatasetError(f"{path}: {exc}") from exc
