"""A fast language check that keeps non-Vietnamese posts away from Vietnamese models.

It is deliberately conservative: a post is `vi` only on positive evidence (Vietnamese-only
letters, or Vietnamese function words in undiacritised text). Anything else is marked with its
language (or `und`) and left unclassified — never silently called clean.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from classifiers.text.normalize import WORD_RE, fold

__all__ = ["LanguageGuess", "detect_language"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Letters that occur in Vietnamese and (almost) nowhere else in Latin-script languages.
_VI_ONLY = frozenset(
    "ăâđêôơư"
    "ảạằắẳẵặầấẩẫậẻẽẹềếểễệỉĩịỏọồốổỗộờớởỡợủũụừứửữựỳỷỹỵ"
    "ĂÂĐÊÔƠƯẢẠẰẮẲẴẶẦẤẨẪẬẺẼẸỀẾỂỄỆỈĨỊỎỌỒỐỔỖỘỜỚỞỠỢỦŨỤỪỨỬỮỰỲỶỸỴ"
)
# Folded Vietnamese function words, minus those that are also common English/French words.
_VI_WORDS = _words(
    """
    khong la cua va nguoi duoc nay mot nhung cho voi cac da trong toi ban thi ma de minh di ve
    nhu roi lam gi sao vay ai nhieu chung may tao cung moi biet noi nhe nha qua thang con chi
    anh em oi day dang se viec nuoc ngay nam thanh pho cai ra vao len xuong tai vi neu hay bi
    boi tu den luc khi nao chua rat lai
    """
)
_EN_WORDS = _words(
    """
    the and is are was were of to in that this it for with you not be have has on at by from
    they we he she his her will would what which who there their been but or
    """
)
# Function words of other Latin-script languages seen in Vietnamese feeds (French, Spanish,
# German, Indonesian), minus any that are also folded Vietnamese words.
_OTHER_LATIN_WORDS = _words(
    """
    le les des est pour une et que dans avec sur pas vous nous tres el los las por y es una
    del con para der die und das ist nicht ein eine mit yang dan ini itu dengan untuk
    """
)
# Scripts that identify a language on their own (first and last code point of each block).
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0400, 0x04FF, "ru"),
    (0x0590, 0x05FF, "he"),
    (0x0600, 0x06FF, "ar"),
    (0x0900, 0x097F, "hi"),
    (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"),
    (0x1780, 0x17FF, "km"),
    (0x3040, 0x30FF, "ja"),
    (0x4E00, 0x9FFF, "zh"),
    (0xAC00, 0xD7AF, "ko"),
)


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    code: str
    confidence: float


# Letters only (the lookahead): Thai or Devanagari vowel signs are marks, and counting them as
# letters pushed a Thai post's share of Thai letters above 1.
_SCRIPT_RES = tuple(
    (re.compile(f"(?=[^\\W\\d_])[{chr(first)}-{chr(last)}]"), code)
    for first, last, code in _SCRIPTS
)
_ANY_SCRIPT_RE = re.compile("|".join(f"[{chr(a)}-{chr(b)}]" for a, b, _ in _SCRIPTS))
_LETTER_RE = re.compile(r"[^\W\d_]")
_VI_ONLY_RE = re.compile(f"[{''.join(sorted(_VI_ONLY))}]")


def detect_language(text: str) -> LanguageGuess:
    letters = len(_LETTER_RE.findall(text))
    if letters < 3:
        return LanguageGuess("und", 0.0)
    if _ANY_SCRIPT_RE.search(text):
        count, code = max((len(pattern.findall(text)), code) for pattern, code in _SCRIPT_RES)
        if count * 2 > letters:
            return LanguageGuess(code, round(count / letters, 3))
    nfc = unicodedata.normalize("NFC", text)
    vi_letters = len(_VI_ONLY_RE.findall(nfc))
    plain = WORD_RE.findall(nfc.casefold())
    words = WORD_RE.findall(fold(" ".join(plain)))
    vi_hits = sum(1 for w in words if w in _VI_WORDS)
    # Other languages' words are matched unfolded: folded, "thật" would read as English "that".
    en_hits = sum(1 for w in plain if w in _EN_WORDS)
    other_hits = sum(1 for w in plain if w in _OTHER_LATIN_WORDS)
    if other_hits >= 2 and other_hits > vi_hits and other_hits > en_hits:
        return LanguageGuess("und", 0.0)  # another Latin-script language: not ours to guess
    letter_ratio = vi_letters / letters
    # Written Vietnamese has ~25–35% marked letters; 5% survives heavy English code-mixing.
    if letter_ratio >= 0.05 and vi_hits >= en_hits:
        return LanguageGuess("vi", round(min(1.0, 0.5 + letter_ratio * 2), 3))
    if vi_hits > en_hits + other_hits and vi_hits >= max(1, len(words) // 8):
        return LanguageGuess("vi", round(min(0.9, 0.4 + vi_hits / max(len(words), 1)), 3))
    if en_hits > 0 and en_hits >= vi_hits:
        return LanguageGuess("en", round(min(1.0, 0.4 + en_hits / max(len(words), 1)), 3))
    return LanguageGuess("und", 0.0)
