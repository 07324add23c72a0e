"""Vietnamese text normalisation: pure functions, no I/O.

Three forms of a text:
- `normalize_text`: what we store and show. NFC, one tone-mark convention, invisible characters
  removed, whitespace tidied. Every letter, digit, symbol and emoji of the input survives.
- `fold`: lower case without diacritics (đ → d), for accent-insensitive search and dedup keys.
- `text_for_model`: what the classifiers read. Lower case, teencode expanded, letter runs
  squeezed, and URLs/@mentions/hashtags/emoticons turned into tokens, since they carry signal.
"""

from __future__ import annotations

import re
import unicodedata

from classifiers.text.teencode import TEENCODE
from classifiers.text.tone import normalize_tone_placement

__all__ = ["WORD_RE", "fold", "normalize_text", "text_for_model", "tokens"]

# Zero-width and bidi-control characters change nothing a reader sees but split words for a model.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e"),
    None,
)
# Lone surrogates (from broken decoders upstream) are not characters: they cannot be encoded,
# hashed or stored, so they become U+FFFD, the replacement character.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_HSPACE_RE = re.compile(r"[^\S\n]+")
_BLANK_LINES_RE = re.compile(r"\n\s*\n\s*\n+")
WORD_RE = re.compile(r"[^\W\d_]+")

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@[\w.]{2,}")
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w{2,})")
# Text emoticons in Vietnamese comments: :)) =)) :v :3 <3 :( ^^ =]]]
_SMILE_RE = re.compile(r"(?:[:=;]-?[)\]dDpP>]+|\^[_.]?\^|:v\b|:3\b|\bxD\b)")
_SAD_RE = re.compile(r"(?:[:=;]'?-?[(\[]+|T[_.]T)")
_HEART_RE = re.compile(r"<3+")
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")  # Vietnamese has no legitimate triple letters
_PUNCT_REPEAT_RE = re.compile(r"([!?.])\1{2,}")
_EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f1e6-\U0001f1ff]"
)
_TOKEN_RE = re.compile(r"<[a-z]+>|#\w+|\w+|[^\w\s]", re.UNICODE)


def normalize_text(text: str) -> str:
    """The stored, displayed form of a text. Idempotent."""
    text = _SURROGATE_RE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HSPACE_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES_RE.sub("\n\n", text).strip()
    spans = [m.span() for m in WORD_RE.finditer(text)]
    return normalize_tone_placement(text, spans)


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Precomposed Latin letters (Vietnamese and Latin-1/Extended-A/Additional) → their base letter,
# so the common case folds with one C-level `translate` instead of NFD and a Python filter.
_FOLD_TABLE = {
    point: _strip_marks(chr(point))
    for block in (range(0x00C0, 0x0250), range(0x1E00, 0x1F00))
    for point in block
    if len(_strip_marks(chr(point))) == 1 and _strip_marks(chr(point)) != chr(point)
}
_FOLD_TABLE[ord("đ")] = "d"
_FOLD_TABLE[ord("Đ")] = "d"


def _combining_class_re() -> re.Pattern[str]:
    """Every code point with a non-zero combining class (none lie above U+1FFFF)."""
    ranges: list[tuple[int, int]] = []
    for point in range(0x300, 0x20000):
        if unicodedata.combining(chr(point)):
            if ranges and ranges[-1][1] == point - 1:
                ranges[-1] = (ranges[-1][0], point)
            else:
                ranges.append((point, point))
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]")


_COMBINING_RE = _combining_class_re()


def fold(text: str) -> str:
    """Lower case, diacritics removed, whitespace collapsed: "Hà Nội" → "ha noi"."""
    folded = text.casefold().translate(_FOLD_TABLE)
    if not folded.isascii() and (
        _COMBINING_RE.search(folded) or not unicodedata.is_normalized("NFD", folded)
    ):
        folded = _strip_marks(folded)  # rarer scripts and marks: the general path
    return " ".join(folded.split())


def _expand_teencode(match: re.Match[str]) -> str:
    word = match.group(0)
    return TEENCODE.get(word, word)


def text_for_model(normalized: str) -> str:
    """The classifier input: lower case with signal-bearing tokens kept as tokens."""
    text = _SURROGATE_RE.sub("\ufffd", normalized).casefold()
    text = _URL_RE.sub(" <url> ", text)
    text = _MENTION_RE.sub(" <mention> ", text)
    text = _HASHTAG_RE.sub(lambda m: f" #{m.group(1)} ", text)
    text = _HEART_RE.sub(" <heart> ", text)
    text = _SMILE_RE.sub(" <smile> ", text)
    text = _SAD_RE.sub(" <sad> ", text)
    text = _EMOJI_RE.sub(lambda m: f" {m.group(0)} " if m.group(0) != "\ufe0f" else " ", text)
    text = _REPEAT_RE.sub(r"\1", text)
    text = _PUNCT_REPEAT_RE.sub(r"\1\1", text)
    text = WORD_RE.sub(_expand_teencode, text)
    return " ".join(text.split())


def tokens(model_text: str) -> list[str]:
    """Split a `text_for_model` string into word, tag, hashtag and symbol tokens."""
    return _TOKEN_RE.findall(model_text)
