"""Evidence spans → text segments to render, marked or not. Pure; escaping is the template's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from schemas import Evidence

__all__ = ["Segment", "segments"]


@dataclass(frozen=True)
class Segment:
    text: str
    labels: tuple[str, ...]  # empty: plain text


def segments(text: str, evidence: Iterable[Evidence]) -> list[Segment]:
    """Split `text` at every span boundary; each piece carries the labels whose evidence covers
    it. Spans outside the text are clipped; overlapping spans are fine."""
    clipped = [
        (max(0, e.start), min(len(text), e.end), e.label.value)
        for e in evidence
        if e.start is not None and e.end is not None
    ]
    spans = [(s, e, label) for s, e, label in clipped if s < e]
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[Segment] = []
    for start, end in pairwise(cuts):
        if start >= end:
            continue
        labels = tuple(sorted({label for s, e, label in spans if s <= start and end <= e}))
        if out and out[-1].labels == labels:
            out[-1] = Segment(out[-1].text + text[start:end], labels)
        else:
            out.append(Segment(text[start:end], labels))
    return out
