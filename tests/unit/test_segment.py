"""Word segmentation: pyvi joins syllables into words; nothing else in the text changes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.exceptions import ClassifierError
from classifiers.text import make_segmenter, segment_runs, unsegment


@pytest.fixture(scope="module")
def pyvi() -> object:
    pytest.importorskip("pyvi", reason="pyvi comes with the `segmentation` extra")
    return make_segmenter("pyvi")


def test_pyvi_joins_words_and_leaves_special_tokens_alone(pyvi: object) -> None:
    segment = pyvi.segment  # type: ignore[attr-defined]
    assert segment("Trường đại học bách khoa Hà Nội") == "Trường đại_học bách_khoa Hà_Nội"
    text = "Mưa lớn chiều 29/11, giao thông ùn tắc!!! https://x.vn/a?b=1 #hanoi @user 😀"
    out = segment(text)
    assert "giao_thông ùn_tắc!!!" in out
    assert "29/11," in out
    assert "https://x.vn/a?b=1 #hanoi @user 😀" in out
    # "_" is the joiner: text that already has one is given back as it is.
    assert segment("giao thông #hà_nội") == "giao thông #hà_nội"


_syllables = st.sampled_from(
    [
        "hà",
        "nội",
        "đại",
        "học",
        "giao",
        "thông",
        "ngu",
        "quá",
        "ko",
        "bít",
        "Bắc",
        "Kỳ",
        "tin",
        "giả",
        "lừa",
        "đảo",
    ]
)
_pieces = st.one_of(_syllables, st.sampled_from([" ", ", ", "!!! ", " 29/11 ", " 😀 ", "\n"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(_pieces, max_size=30).map("".join))
def test_pyvi_never_loses_or_changes_text(pyvi: object, text: str) -> None:
    segmented = pyvi.segment(text)  # type: ignore[attr-defined]
    assert unsegment(segmented) == text


@given(st.text(max_size=80))
def test_a_misbehaving_segmenter_cannot_change_the_text(text: str) -> None:
    def rude(run: str) -> str:
        return run.upper().replace(" ", "_")

    def broken(run: str) -> str:
        raise RuntimeError("crash")

    for tokenize in (rude, broken):
        assert unsegment(segment_runs(text, tokenize)) == unsegment(text) or "_" in text


def test_unknown_and_unconfigured_segmenters_are_clear_errors() -> None:
    with pytest.raises(ClassifierError, match="unknown segmenter"):
        make_segmenter("magic")
    with pytest.raises(ClassifierError, match="model directory"):
        make_segmenter("vncorenlp")
    assert make_segmenter("whitespace").segment("đại học") == "đại học"
