"""One tone-mark convention for Vietnamese syllables.

Vietnamese writes the same syllable two ways: the "old" placement (hòa, thúy, khỏe) and the
"new" one (hoà, thuý, khoẻ). They differ only for the open diphthongs oa, oe and uy, but to a
model or an exact-match index they are different words. We rewrite every syllable to the old
placement, which is the one most Vietnamese newspapers and the labelled corpora use.

Rules (applied to a syllable with exactly one tone mark; anything else is left untouched):
1. `qu` and `gi` before another vowel are onsets, not part of the vowel nucleus.
2. A nucleus vowel carrying a quality mark (â ă ê ô ơ ư) takes the tone (the last one: ươ → ơ).
3. Otherwise, with a final consonant the last nucleus vowel takes it (hoàng, huỳnh).
4. Otherwise three vowels → the middle one (khoái); two → the first (hòa, thúy, mía); one → it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["TONE_MARKS", "normalize_tone_placement", "place_tone"]

TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền sắc ngã hỏi nặng
_QUALITY_MARKS = frozenset("\u0302\u0306\u031b")  # circumflex, breve, horn
_VOWELS = frozenset("aeiouy")


def _letters(nfd: str) -> list[list[str]] | None:
    """Split a decomposed word into letters (base + its combining marks)."""
    letters: list[list[str]] = []
    for char in nfd:
        if unicodedata.combining(char):
            if not letters:
                return None
            letters[-1].append(char)
        else:
            letters.append([char])
    return letters


def _nucleus(bases: list[str]) -> tuple[int, int] | None:
    """[start, end) of the single vowel run, after skipping `qu`/`gi` onsets."""
    start = 0
    onset = (bases[0], bases[1]) if len(bases) > 2 else None
    if onset in {("q", "u"), ("g", "i")} and bases[2] in _VOWELS:
        start = 2
    runs: list[tuple[int, int]] = []
    i = start
    while i < len(bases):
        if bases[i] in _VOWELS:
            j = i
            while j < len(bases) and bases[j] in _VOWELS:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    if len(runs) != 1:
        return None
    if start == 2 and runs[0][0] != 2:
        return None
    return runs[0]


def place_tone(word: str) -> str:
    """Return `word` with its tone mark on the conventional vowel (NFC), or `word` unchanged."""
    letters = _letters(unicodedata.normalize("NFD", word))
    if letters is None or len(letters) < 2:
        return word
    tone_at = [i for i, letter in enumerate(letters) if any(m in TONE_MARKS for m in letter[1:])]
    if len(tone_at) != 1:
        return word
    bases = [letter[0].lower() for letter in letters]
    nucleus = _nucleus(bases)
    if nucleus is None:
        return word
    start, end = nucleus
    size = end - start
    marked = [i for i in range(start, end) if any(m in _QUALITY_MARKS for m in letters[i][1:])]
    if marked:
        target = marked[-1]
    elif end < len(letters):
        target = end - 1
    elif size == 3:
        target = start + 1
    elif size in (1, 2):
        target = start
    else:
        return word
    current = tone_at[0]
    if target == current:
        return word
    tone = next(m for m in letters[current][1:] if m in TONE_MARKS)
    letters[current].remove(tone)
    letters[target].append(tone)
    return unicodedata.normalize("NFC", "".join("".join(letter) for letter in letters))


_cached_place_tone = lru_cache(maxsize=65536)(place_tone)


def _needs_work(word: str) -> bool:
    # Cheap pre-check: only multi-vowel words with a toned vowel can move their tone.
    return len(word) > 1 and not word.isascii()


def normalize_tone_placement(text: str, word_spans: list[tuple[int, int]]) -> str:
    """Apply `place_tone` to each word span of an NFC `text`; everything else is kept as is."""
    if not word_spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in word_spans:
        word = text[start:end]
        if _needs_work(word):
            parts.append(text[last:start])
            parts.append(_cached_place_tone(word))
            last = end
    if last == 0:
        return text
    parts.append(text[last:])
    return "".join(parts)
