"""Canonical URLs and Vietnamese publication times: examples and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.canonical import canonical_url, host_of
from ingest.dates import LOCAL_TZ, parse_datetime


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://VnExpress.net:443/thoi-su/a.html#top", "https://vnexpress.net/thoi-su/a.html"),
        ("https://x.vn/a?utm_source=fb&b=2&a=1&fbclid=XYZ", "https://x.vn/a?a=1&b=2"),
        ("http://x.vn:8080", "http://x.vn:8080/"),
        ("https://x.vn/tin%20m%E1%BB%9Bi", "https://x.vn/tin%20m%E1%BB%9Bi"),
        ("https://x.vn/tin mới", "https://x.vn/tin%20m%E1%BB%9Bi"),
        ("https://x.vn/a?zarsrc=30&id=7", "https://x.vn/a?id=7"),
    ],
)
def test_canonical_url_examples(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("bad", ["ftp://x.vn/a", "/relative/path", "https://", "mailto:a@b.vn"])
def test_canonical_url_refuses_what_is_not_an_http_url(bad: str) -> None:
    with pytest.raises(ValueError, match="not an absolute"):
        canonical_url(bad)


_urls = st.builds(
    lambda scheme, host, path, query, frag: f"{scheme}://{host}/{path}?{query}#{frag}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[A-Za-z0-9]{1,12}\.(vn|com|net)", fullmatch=True),
    st.text(
        st.characters(
            min_codepoint=0x20,
            max_codepoint=0x1EFF,
            exclude_categories=["Cs"],
            exclude_characters="?#",
        ),
        max_size=30,
    ),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"), max_size=30
    ),
    st.text(max_size=10),
)


@given(_urls)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    assert not [k for k, _ in parse_qsl(urlsplit(once).query) if k.lower().startswith("utm_")]
    assert host_of(once) == host_of(once).lower()


@pytest.mark.parametrize(
    ("text", "expected_local"),
    [
        ("Thứ bảy, 28/11/2026, 14:30 (GMT+7)", datetime(2026, 11, 28, 14, 30)),
        ("14:30 28/11/2026", datetime(2026, 11, 28, 14, 30)),
        ("28-11-2026 - 07:05", datetime(2026, 11, 28, 7, 5)),
        ("Cập nhật: 03/04/2026 09h15", datetime(2026, 4, 3, 9, 15)),  # day first
        ("ngày 2 tháng 9 năm 2026", datetime(2026, 9, 2, 0, 0)),
        ("2026-11-28T14:30:00", datetime(2026, 11, 28, 14, 30)),  # ISO, no zone: local
    ],
)
def test_vietnamese_dates_are_read_as_local_time(text: str, expected_local: datetime) -> None:
    assert parse_datetime(text) == expected_local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T07:30:00Z", datetime(2026, 11, 28, 7, 30, tzinfo=UTC)),
        ("2026-11-28T14:30:00+07:00", datetime(2026, 11, 28, 7, 30, tzinfo=UTC)),
        ("Sat, 28 Nov 2026 14:30:00 +0700", datetime(2026, 11, 28, 7, 30, tzinfo=UTC)),
        ("28/11/2026 14:30 GMT+9", datetime(2026, 11, 28, 5, 30, tzinfo=UTC)),
    ],
)
def test_explicit_zones_win(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "hôm qua", "31/02/2026", "99:99 40/13/2026"])
def test_no_date_or_an_impossible_one_is_none(text: str | None) -> None:
    assert parse_datetime(text) is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_a_printed_local_time_round_trips(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0)
    printed = f"Thứ hai, {moment:%d/%m/%Y}, {moment:%H:%M} (GMT+7)"
    assert parse_datetime(printed) == moment.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    parsed = parse_datetime(printed)
    assert parsed is not None
    assert parsed - moment.replace(tzinfo=UTC) == timedelta(hours=-7)
