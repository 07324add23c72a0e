"""Partner signatures (HMAC, replay window) and charset decoding of fetched pages."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.charset import declared_charset, decode_body
from schemas.signing import ReplayGuard, SignatureError, sign, verify
from tests.unit.ingest.helpers import cp1258

SECRET = b"partner-secret-0123456789"


@given(st.binary(max_size=2000), st.integers(min_value=1_600_000_000, max_value=2_000_000_000))
def test_a_signed_body_verifies_and_any_change_does_not(body: bytes, t: int) -> None:
    header = sign(SECRET, body, t)
    assert verify(SECRET, body, header, now=t, tolerance_s=300)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, body + b" ", header, now=t, tolerance_s=300)
    with pytest.raises(SignatureError, match="does not match"):
        verify(b"other-secret-0123456789", body, header, now=t, tolerance_s=300)


def test_stale_and_malformed_signatures_are_refused() -> None:
    header = sign(SECRET, b"{}", 1_000_000)
    with pytest.raises(SignatureError, match="from our clock"):
        verify(SECRET, b"{}", header, now=1_000_000 + 301, tolerance_s=300)
    for bad in ("", "v1=abc", "t=abc,v1=x", "t=1"):
        with pytest.raises(SignatureError, match="must be"):
            verify(SECRET, b"{}", bad, now=1, tolerance_s=300)


def test_rotating_secrets_send_two_signatures() -> None:
    old = sign(b"old-secret-0123456789", b"{}", 5).partition(",")[2]
    header = sign(SECRET, b"{}", 5) + "," + old
    assert verify(b"old-secret-0123456789", b"{}", header, now=5, tolerance_s=300)


def test_replay_guard_remembers_until_expiry() -> None:
    now = [100.0]
    guard = ReplayGuard(ttl_s=10, clock=lambda: now[0])
    assert guard.first_use("a")
    assert not guard.first_use("a")
    now[0] += 11
    assert guard.first_use("a")


@pytest.mark.parametrize("codec", ["utf-8", "cp1258", "utf-16"])
def test_declared_charsets_decode(codec: str) -> None:
    text = "Tin mới: Hà Nội mưa lớn"
    body = cp1258(text) if codec == "cp1258" else text.encode(codec)
    decoded = decode_body(body, f"text/html; charset={codec}")
    assert unicodedata.normalize("NFC", decoded) == text


def test_meta_charset_and_mislabelled_utf8() -> None:
    page = '<html><head><meta charset="windows-1258"></head><body>Đà Nẵng</body></html>'
    assert declared_charset(cp1258(page), "text/html") == "cp1258"
    assert "Đà Nẵng" in unicodedata.normalize("NFC", decode_body(cp1258(page), "text/html"))
    # Declared Latin-1 but really UTF-8: Latin-1 decodes anything, so the label is trusted;
    # a label that fails (ascii) falls through to UTF-8.
    assert decode_body("Hà Nội".encode(), "text/html; charset=ascii") == "Hà Nội"
    assert decode_body(b"\xef\xbb\xbfS\xc3\xa0i G\xc3\xb2n", None) == "Sài Gòn"


def test_undeclared_legacy_text_is_detected_not_crashed_on() -> None:
    body = cp1258("Người dân thành phố Hồ Chí Minh " * 20)
    decoded = decode_body(body, None)
    assert isinstance(decoded, str)
    assert len(decoded) > 100


def test_valid_utf8_wins_over_a_declared_single_byte_charset() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body>Hà Nội, Đà Nẵng</body></html>'
    assert "Hà Nội, Đà Nẵng" in decode_body(page.encode(), "text/html; charset=windows-1252")
    assert "Hà Nội, Đà Nẵng" in decode_body(page.encode(), "text/html")  # the meta tag alone
    # Not for a multi-byte declaration, nor for bytes that are not UTF-8.
    assert decode_body("Sài Gòn".encode("utf-16"), "text/plain; charset=utf-16") == "Sài Gòn"
    assert decode_body("café".encode("latin-1"), "text/html; charset=latin-1") == "café"
