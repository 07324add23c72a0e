"""Vietnamese normalisation: tone placement, folding, model text, language check."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from classifiers.text import (
    detect_language,
    fold,
    normalize_text,
    place_tone,
    text_for_model,
)

VIETNAMESE_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
vietnamese_text = st.text(
    alphabet=st.sampled_from(
        VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper() + " .,!?\n\t0123456789"
    ),
    max_size=200,
)


@pytest.mark.parametrize(
    ("new_style", "old_style"),
    [
        ("hoà", "hòa"),
        ("thuý", "thúy"),
        ("khoẻ", "khỏe"),
        ("Hoà", "Hòa"),
        ("HOÀ", "HÒA"),
        ("xoà", "xòa"),
        ("Thuỵ", "Thụy"),
        ("loà", "lòa"),
    ],
)
def test_new_style_tone_marks_move_to_old_style(new_style: str, old_style: str) -> None:
    assert place_tone(new_style) == old_style
    assert place_tone(old_style) == old_style


@pytest.mark.parametrize(
    "word",
    ["quý", "hoàng", "huỳnh", "khoái", "người", "giữ", "gì", "quá", "thuở", "cứu", "tiếng",
     "gìn", "khuỷu", "ok", "café", "Đà", "nhiễm"],
)  # fmt: skip
def test_conventional_words_are_left_alone(word: str) -> None:
    assert place_tone(word) == word


def test_normalize_text_unifies_tone_convention_invisibles_and_spacing() -> None:
    raw = "  Hoà\u200b bình   và khoẻ mạnh \r\n\r\n\r\n\r\nthuý  "
    assert normalize_text(raw) == "Hòa bình và khỏe mạnh\n\nthúy"


def test_tone_is_only_moved_inside_one_syllable() -> None:
    # Two vowel runs: not one Vietnamese syllable, so nothing is guessed.
    assert place_tone("Hoàbình") == "Hoàbình"


def test_normalize_text_composes_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Tiếng Việt")
    assert normalize_text(decomposed) == "Tiếng Việt"


@given(vietnamese_text)
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@given(st.text(max_size=300))
def test_normalize_text_loses_no_letter_digit_or_symbol(text: str) -> None:
    # Tone marks may move between vowels; the letters themselves, in order, never change.
    invisible = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    text_ok = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    expected = "".join(c for c in fold(text_ok) if not c.isspace() and c not in invisible)
    got = "".join(c for c in fold(normalize_text(text)) if not c.isspace())
    assert got == expected


@given(vietnamese_text)
def test_normalize_text_output_is_nfc(text: str) -> None:
    out = normalize_text(text)
    assert unicodedata.normalize("NFC", out) == out


def test_fold_removes_diacritics_and_case() -> None:
    assert fold("Hà Nội  ĐẸP") == "ha noi dep"


@given(st.text(max_size=200))
def test_fold_is_idempotent_and_ascii_for_vietnamese(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_text_for_model_keeps_signal_tokens_and_expands_teencode() -> None:
    out = text_for_model(
        normalize_text("ko bít j hết :)) đẹppppp https://x.vn/a @nam.le #TinNóng <3 😡😡")
    )
    assert out == "không biết gì hết <smile> đẹp <url> <mention> #tinnóng <heart> 😡 😡"


def test_text_for_model_canonicalises_profanity_variants() -> None:
    assert text_for_model("dmm vcl") == text_for_model("đm vl") == "đm vl"


@given(st.text(max_size=200))
def test_text_for_model_never_raises(text: str) -> None:
    assert isinstance(text_for_model(normalize_text(text)), str)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hôm nay trời đẹp quá, đi chơi thôi mọi người ơi", "vi"),
        ("thang nay ngu vai that su", "vi"),  # no diacritics, Vietnamese function words
        ("ngu vãi thật sự đó, thế thì để tôi", "vi"),  # folds to English "that", "the", "de"
        ("Coronavirus is manmade and the vaccine is a lie", "en"),
        ("今天天气很好，我们去公园散步吧。", "zh"),
        ("오늘 날씨가 정말 좋네요", "ko"),
        ("สวัสดีครับ ขอบคุณสำหรับข้อมูล", "th"),
        ("สวัสดีครับ ขอบคุณสำหรับข้อมูลนะครับ", "th"),  # vowel signs are marks, not letters
        ("नमस्ते दुनिया, आप कैसे हैं", "hi"),
        ("Merci pour l'information, très utile pour les touristes", "und"),
        ("🥰🥰🥰", "und"),
        ("a", "und"),
        ("مرحبا بكم في المدينة", "ar"),
    ],
)
def test_detect_language(text: str, code: str) -> None:
    assert detect_language(text).code == code


@given(
    st.text(max_size=300)
    | st.text(alphabet=st.characters(min_codepoint=0x0900, max_codepoint=0x0E7F))
)
def test_detect_language_never_raises(text: str) -> None:
    guess = detect_language(text)
    assert 0.0 <= guess.confidence <= 1.0


def _reference_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@example("שׁ")  # a presentation form whose mark lies outside the Latin combining blocks
@given(st.text(max_size=200) | vietnamese_text)
def test_fast_fold_matches_the_reference_definition(text: str) -> None:
    assert fold(text) == _reference_fold(text)
