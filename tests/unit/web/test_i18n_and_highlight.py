"""Every visible word exists in both languages; evidence highlighting never loses text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.web.highlight import segments
from alerting.web.i18n import _CATALOGS, translate
from schemas import AlertStatus, Evidence, EvidenceKind, Label, Severity


def test_both_catalogs_have_the_same_keys() -> None:
    assert set(_CATALOGS["vi"]) == set(_CATALOGS["en"])


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_enum_value_shown_in_the_ui_has_words(lang: str) -> None:
    keys = [f"label.{v.value}" for v in Label] + [f"severity.{v.value}" for v in Severity]
    keys += [f"status.{v.value}" for v in AlertStatus] + ["dest.cong_an", "dest.so_tttt"]
    for key in keys:
        assert translate(lang, key) != key


def test_vietnamese_is_the_default_and_placeholders_fill() -> None:
    assert translate("xx", "nav.queue") == "Hàng đợi"
    assert translate("vi", "login.limited", seconds=30).endswith("30 giây.")
    assert translate("en", "no.such.key") == "no.such.key"


def ev(start: int, end: int, label: Label = Label.HATE) -> Evidence:
    return Evidence(label=label, kind=EvidenceKind.SPAN, text="x", weight=1.0, start=start, end=end)


def test_spans_become_marked_segments() -> None:
    text = "bọn này ngu như bò"
    parts = segments(text, [ev(8, 11), ev(8, 18, Label.OFFENSIVE)])
    assert [(p.text, p.labels) for p in parts] == [
        ("bọn này ", ()),
        ("ngu", ("hate", "offensive")),
        (" như bò", ("offensive",)),
    ]


@given(
    st.text(max_size=60), st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80)), max_size=6)
)
def test_segments_always_rebuild_the_text(text: str, spans: list[tuple[int, int]]) -> None:
    evidence = [ev(a, b) for a, b in spans if a < b]
    parts = segments(text, evidence)
    assert "".join(p.text for p in parts) == text
    assert all(p.text for p in parts)
