"""Errors of the collectors and intake (see `schemas.exceptions` for the whole tree).

IngestError                  reading an input source failed
├── SourceConfigError        sources.yaml, or a credential it names, is unusable
├── FetchError               one HTTP exchange failed for good (after any retries)
│   ├── RobotsDisallowed     robots.txt forbids the URL: skipped, never fetched
│   ├── ResponseTooLarge     over the size limit: the body was not read to the end
│   ├── EgressRefused        the host is on a loopback/private/metadata address: not fetched
│   └── QuotaExceeded        the platform's quota or rate limit says "not now"
└── PayloadError             a response arrived but cannot be understood (malformed feed/JSON)
"""

from __future__ import annotations

from schemas.exceptions import CanhbaoError

__all__ = [
    "EgressRefused",
    "FetchError",
    "IngestError",
    "PayloadError",
    "QuotaExceeded",
    "ResponseTooLarge",
    "RobotsDisallowed",
    "SourceConfigError",
]


class IngestError(CanhbaoError):
    """Reading an input source failed."""


class SourceConfigError(IngestError):
    """The source registry, or a credential it refers to, is unusable."""


class FetchError(IngestError):
    """An HTTP exchange failed for good. `reason` is a short metric-friendly code."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        reason: str,
        status: int | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.status = status
        self.body = body[:10_000]  # API error envelopes say why (quota, token, permission)


class RobotsDisallowed(FetchError):
    """robots.txt forbids this URL to our user agent."""


class ResponseTooLarge(FetchError):
    """The response is over the configured maximum size."""


class EgressRefused(FetchError):
    """The destination resolves to an address we never connect to unasked (`ingest.egress`)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message, url=url, reason="egress_refused")


class QuotaExceeded(FetchError):
    """A 429, a `Retry-After` longer than we wait, or a platform quota error."""


class PayloadError(IngestError):
    """A response that cannot be understood: malformed feed, JSON or API envelope."""
