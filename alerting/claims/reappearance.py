"""How often each known false claim came back: posts per local day (Asia/Ho_Chi_Minh) and per
platform, from the store's sightings (matched posts and their stored copies). Posts, never
people: a sighting carries no author, and nothing here groups by one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from alerting.store.base import ClaimSighting

__all__ = ["Reappearance", "reappearances"]

_LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Reappearance:
    claim_id: str
    by_day: dict[date, int]  # every day of the window, zero-filled, oldest first
    by_platform: Counter[str] = field(default_factory=Counter)
    copies: int = 0  # of the total, stored duplicates of matched posts

    @property
    def total(self) -> int:
        return sum(self.by_day.values())


def reappearances(
    sightings: Iterable[ClaimSighting], claim_ids: Iterable[str], last_day: date, days: int
) -> dict[str, Reappearance]:
    """Per claim, its sightings on the `days` local days ending with `last_day`."""
    window = [last_day - timedelta(days=days - 1 - i) for i in range(days)]
    out = {cid: Reappearance(cid, dict.fromkeys(window, 0)) for cid in claim_ids}
    for s in sightings:
        found = out.get(s.claim_id)
        day = s.collected_at.astimezone(_LOCAL).date()
        if found is None or day not in found.by_day:
            continue
        found.by_day[day] += 1
        found.by_platform[s.platform] += 1
        found.copies += s.duplicate
    return out
