"""The source registry: which public feeds and official APIs to collect, from `sources.yaml`.

Each entry is validated strictly (a typo is an error naming the entry and the field, not a
silently ignored key). Credentials are never written in the file: an entry names where its token
is (`env:NAME` or `file:/run/secrets/x`), and `resolve_credential` reads it at fetch time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ingest.exceptions import SourceConfigError

__all__ = [
    "CollectorDefaults",
    "FacebookPageSource",
    "RssSource",
    "SitemapSource",
    "Source",
    "SourceRegistry",
    "TikTokQuerySource",
    "YouTubeChannelSource",
    "load_sources",
    "parse_interval",
    "resolve_credential",
]

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_CREDENTIAL_RE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")


def parse_interval(value: object) -> float:
    """`90`, `"90s"`, `"15m"`, `"1h"` → seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _INTERVAL_RE.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"not an interval: {value!r} (use e.g. 90, '90s', '15m', '1h')")
    if seconds <= 0:
        raise ValueError("the interval must be positive")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SourceBase(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", description="unique, stable id")
    interval_s: float = Field(900.0, alias="interval", description="time between collections")
    jitter: float = Field(0.1, ge=0.0, le=0.5, description="± fraction of the interval")
    tags: tuple[str, ...] = ()
    enabled: bool = True
    max_items: int = Field(200, ge=1, le=10_000, description="new items per collection at most")
    rate_per_s: float | None = Field(None, gt=0, description="requests/s to this source's host")
    allow_internal: bool = Field(
        False,
        description="fetch this entry's own host even on a loopback/private address (an"
        " intranet feed, a test server); every other internal destination stays refused",
    )

    @property
    def endpoint(self) -> str:
        """The URL whose host this entry fetches from (its feed, or its API base)."""
        raise NotImplementedError

    @field_validator("interval_s", mode="before")
    @classmethod
    def _interval(cls, value: object) -> float:
        return parse_interval(value)


class _NewsSource(_SourceBase):
    url: str = Field(pattern=r"^https?://\S+$")
    fetch_articles: bool = Field(True, description="fetch each article and extract its text")
    confirmed: bool = Field(True, description="false: feed URL not verified against the site")

    @property
    def endpoint(self) -> str:
        return self.url


class RssSource(_NewsSource):
    """An RSS or Atom feed (feedparser reads both)."""

    type: Literal["rss"]


class SitemapSource(_NewsSource):
    """A Google News sitemap (or a plain sitemap, or an index of either)."""

    type: Literal["sitemap"]


class _ApiSource(_SourceBase):
    credentials: str = Field(description="where the token is: env:NAME or file:PATH")
    include_comments: bool = True
    max_comments: int = Field(100, ge=0, le=10_000, description="per post or video")

    api_base: str

    @property
    def endpoint(self) -> str:
        return self.api_base

    @field_validator("credentials")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not _CREDENTIAL_RE.match(value):
            raise ValueError("must be a reference (env:NAME or file:PATH), never the secret")
        return value


class FacebookPageSource(_ApiSource):
    """Public posts of one Facebook Page and their comments, through the Graph API."""

    type: Literal["facebook_page"]
    page_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    api_base: str = "https://graph.facebook.com"
    api_version: str = Field("v21.0", pattern=r"^v\d+\.\d+$")


class YouTubeChannelSource(_ApiSource):
    """A channel's uploads and their comment threads, through the YouTube Data API v3."""

    type: Literal["youtube_channel"]
    channel_id: str = Field(pattern=r"^UC[A-Za-z0-9_-]{22}$")
    api_base: str = "https://www.googleapis.com/youtube/v3"
    daily_quota_units: int = Field(10_000, ge=1, description="the project's quota, shared")


class TikTokQuerySource(_ApiSource):
    """Videos matching keywords in given regions, and their comments (TikTok Research API).
    The credential holds `client_key:client_secret`."""

    type: Literal["tiktok_query"]
    keywords: tuple[str, ...] = Field(min_length=1)
    region_codes: tuple[str, ...] = ("VN",)
    lookback_days: int = Field(2, ge=1, le=30, description="the API allows 30 days per query")
    api_base: str = "https://open.tiktokapis.com"
    daily_requests: int = Field(1000, ge=1, description="the Research API's daily request cap")


Source = Annotated[
    RssSource | SitemapSource | FacebookPageSource | YouTubeChannelSource | TikTokQuerySource,
    Field(discriminator="type"),
]
_SOURCE = TypeAdapter(Source)


class CollectorDefaults(_Strict):
    user_agent: str = "canhbao-collector/0.1 (+https://github.com/canhbao; public content only)"
    timeout_s: float = Field(20.0, gt=0)
    max_response_bytes: int = Field(5_000_000, ge=10_000)
    max_attempts: int = Field(4, ge=1, le=10)
    per_host_concurrency: int = Field(4, ge=1, le=64)
    per_host_rate_per_s: float = Field(5.0, gt=0)
    max_retry_after_s: float = Field(120.0, ge=0, description="longer waits end the round")
    concurrency: int = Field(32, ge=1, le=1024, description="sources collected at once")


class SourceRegistry(_Strict):
    defaults: CollectorDefaults = CollectorDefaults()
    sources: tuple[Source, ...]

    def internal_endpoints(self) -> list[str]:
        """Endpoints that `allow_internal` lets the egress guard reach on internal addresses."""
        return [s.endpoint for s in self.sources if s.allow_internal]

    def named(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise SourceConfigError(f"no source named {name!r}")


def _describe(exc: ValidationError, where: str) -> str:
    """Every error of `exc`, one line each, prefixed with `where`."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        lines.append(f"{where}: {loc}: {error['msg']}" if loc else f"{where}: {error['msg']}")
    return "\n".join(lines)


def _entry_errors(index: int, entry: Any) -> str | None:
    where = f"sources[{index}]"
    if isinstance(entry, dict):
        where += f" ({entry.get('name', '?')})"
        if entry.get("type") == "zalo":
            return (
                f"{where}: Zalo offers no API for public posts; partners can send posts to the"
                " intake endpoint instead (`canhbao intake`)"
            )
    try:
        _SOURCE.validate_python(entry)
    except ValidationError as exc:
        return _describe(exc, where)
    return None


def load_sources(path: Path) -> SourceRegistry:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SourceConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise SourceConfigError(f"{path}: expected a mapping with a `sources:` list")
    # per-entry messages name the entry; every entry's, at once
    errors = [e for i, entry in enumerate(document["sources"]) if (e := _entry_errors(i, entry))]
    if errors:
        raise SourceConfigError("\n".join(errors))
    try:
        registry = SourceRegistry.model_validate(document)
    except ValidationError as exc:
        raise SourceConfigError(_describe(exc, str(path))) from exc
    names = [s.name for s in registry.sources]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise SourceConfigError(f"{path}: source names must be unique: {', '.join(dupes)}")
    return registry


def resolve_credential(reference: str) -> str:
    """Read a secret from `env:NAME` or `file:PATH`, stripped; a clear error if missing."""
    kind, _, target = reference.partition(":")
    if kind == "env":
        value = os.environ.get(target, "").strip()
        if not value:
            raise SourceConfigError(f"credential {reference}: environment variable is not set")
        return value
    if kind == "file":
        try:
            value = Path(target).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceConfigError(f"credential {reference}: {exc.strerror}") from exc
        if not value:
            raise SourceConfigError(f"credential {reference}: the file is empty")
        return value
    raise SourceConfigError(f"credential reference {reference!r}: use env:NAME or file:PATH")
