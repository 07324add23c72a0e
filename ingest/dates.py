"""Publication times as Vietnamese sites write them, to UTC.

Sites print local time (Asia/Ho_Chi_Minh, UTC+7, no daylight saving): "Thứ bảy, 28/11/2026,
14:30 (GMT+7)", "14:30 28/11/2026", "28-11-2026 - 14:30", "ngày 28 tháng 11 năm 2026", next to
ISO 8601 in meta tags and RFC 822 in feeds. Day first, always: 03/04 is 3 April.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

__all__ = ["LOCAL_TZ", "parse_datetime"]

LOCAL_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
_DMY_RE = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_WORDS_RE = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE)
_TIME_RE = re.compile(r"(?<!\d)(\d{1,2})\s*(?::|h|giờ)\s*(\d{2})(?:\s*:\s*(\d{2}))?(?!\d)")
_OFFSET_RE = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


def _offset(sign: str, hours: str, minutes: str | None) -> timezone:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-delta if sign == "-" else delta)


def _iso(text: str) -> datetime | None:
    match = _ISO_RE.search(text)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    tz: timezone = LOCAL_TZ
    if zone == "Z":
        tz = UTC
    elif zone:
        digits = zone[1:].replace(":", "")
        tz = _offset(zone[0], digits[:2], digits[2:])
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=tz,
    )


def _local(text: str) -> datetime | None:
    match = _DMY_RE.search(text) or _WORDS_RE.search(text)
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    rest = text[: match.start()] + " " + text[match.end() :]
    hour = minute = second = 0
    if clock := _TIME_RE.search(rest):
        hour, minute = int(clock.group(1)), int(clock.group(2))
        second = int(clock.group(3) or 0)
    tz = LOCAL_TZ
    if zone := _OFFSET_RE.search(rest):
        tz = _offset(zone.group(1), zone.group(2), zone.group(3))
    return datetime(year, month, day, hour, minute, second, tzinfo=tz)


def parse_datetime(text: str | None) -> datetime | None:
    """The first date (and time) in `text`, as an aware UTC datetime; `None` if there is none
    or it is not a real date (31/02). Local time is assumed where no zone is given."""
    if not text or not text.strip():
        return None
    text = text.strip()[:200]
    try:
        if text[:4].isdigit() and len(text) >= 10 and text[4] == "-":
            parsed = _iso(text)
        elif re.match(r"^[A-Za-z]{3},", text) or re.match(r"^\d{1,2} [A-Za-z]{3} \d{4}", text):
            parsed = parsedate_to_datetime(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=LOCAL_TZ)
        else:
            parsed = _local(text)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed is not None else None
