"""Which inputs a Vietnamese text model declines, and why: shared by every model, so that an
emoji-only or English post is marked the same way whichever model looks at it."""

from __future__ import annotations

from collections.abc import Sequence

from classifiers.base import ClassifierInput
from classifiers.text import detect_language
from schemas import SkipReason

__all__ = ["MIN_LETTERS", "skip_reasons"]

MIN_LETTERS = 2


def skip_reasons(
    batch: Sequence[ClassifierInput], model_texts: Sequence[str]
) -> dict[int, SkipReason]:
    """Index → reason for every input a model must not score; the rest are scored."""
    skipped: dict[int, SkipReason] = {}
    for i, (item, model_text) in enumerate(zip(batch, model_texts, strict=True)):
        if not _has_letters(model_text, MIN_LETTERS):
            skipped[i] = SkipReason.NO_TEXT
            continue
        language = item.language or detect_language(item.text).code
        if language != "vi":
            skipped[i] = SkipReason.NOT_VIETNAMESE
    return skipped


def _has_letters(text: str, wanted: int) -> bool:
    """At least `wanted` letters: stops counting as soon as it knows (texts can be long)."""
    for char in text:
        if char.isalpha():
            wanted -= 1
            if wanted <= 0:
                return True
    return wanted <= 0
