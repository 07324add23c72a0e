"""robots.txt, read as RFC 9309 says: a 4xx means no rules (allowed), a 5xx or an unreachable
server means "assume everything is disallowed" until it can be read again."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

__all__ = ["RobotsRules", "robots_url"]

# RFC 9309 §2.5: crawlers must read at least 500 KiB; more than that is ignored.
MAX_ROBOTS_BYTES = 512 * 1024


def robots_url(scheme: str, netloc: str) -> str:
    return f"{scheme}://{netloc}/robots.txt"


@dataclass(frozen=True)
class RobotsRules:
    parser: RobotFileParser
    note: str  # where the rules came from, for logs: "200", "404: no rules", "unreachable: …"
    status: int | None

    @property
    def readable(self) -> bool:
        """False when robots.txt could not be read (5xx, network): then nothing is allowed."""
        return self.status is not None and self.status < 500

    @classmethod
    def from_response(cls, status: int | None, body: bytes, error: str = "") -> RobotsRules:
        parser = RobotFileParser()
        if status is None or status >= 500:
            parser.disallow_all = True  # type: ignore[attr-defined]  # no stub for it
            note = f"unreachable: {error}" if status is None else f"HTTP {status}"
        elif status >= 400:
            parser.allow_all = True  # type: ignore[attr-defined]
            note = f"{status}: no rules"
        else:
            text = body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
            parser.parse(text.splitlines())
            note = str(status)
        return cls(parser, note, status)

    def allows(self, url: str, user_agent: str) -> bool:
        return self.parser.can_fetch(user_agent, url)

    def crawl_delay(self, user_agent: str) -> float | None:
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None
