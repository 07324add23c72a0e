"""What makes a claim text usable: present, of a sentence's size, Vietnamese (the matcher and
its thresholds were fitted on Vietnamese; another language would match on noise)."""

from __future__ import annotations

from alerting.exceptions import ClaimError
from classifiers.text import detect_language, normalize_text, tokens

__all__ = ["MAX_CLAIM_CHARS", "MIN_CLAIM_WORDS", "checked_claim_text"]

MAX_CLAIM_CHARS = 1000
MIN_CLAIM_WORDS = 3


def checked_claim_text(text: str, what: str = "claim", variant: bool = False) -> str:
    """The normalised text, or a `ClaimError` saying why it cannot be a claim. A statement
    must read as Vietnamese; a variant need only not read as another language (variants are
    often the claim typed without diacritics, which a short text leaves undetermined)."""
    normalized = normalize_text(text)
    if not normalized:
        raise ClaimError(f"{what} is empty")
    if len(normalized) > MAX_CLAIM_CHARS:
        raise ClaimError(
            f"{what} has {len(normalized)} characters: a claim is one statement"
            f" (at most {MAX_CLAIM_CHARS}); put the rest in the rebuttal"
        )
    words = [t for t in tokens(normalized.casefold()) if any(c.isalnum() for c in t)]
    if len(words) < MIN_CLAIM_WORDS:
        raise ClaimError(f"{what} has {len(words)} words: at least {MIN_CLAIM_WORDS}")
    language = detect_language(normalized)
    if language.code != "vi" and not (variant and language.code == "und"):
        raise ClaimError(f"{what} does not read as Vietnamese (detected {language.code!r})")
    return normalized
