"""Canonical URLs: the same article reached by two links gets one URL, hence one post id.

Lower-case scheme and host, no default port, no fragment, no tracking parameters, sorted query,
percent-encoding normalised, `/` for an empty path. Pure and idempotent (property-tested).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["canonical_url", "host_of"]

# Parameters that identify a campaign or a click, never the content.
_TRACKING = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "ref", "ref_src", "zarsrc", "zalo_source",
        "utm_id", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
        "vn_source", "vn_medium", "vn_campaign", "vn_term",
    }
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING or lowered.startswith("utm_")


def canonical_url(url: str) -> str:
    """Raises ValueError for anything that is not an absolute http(s) URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in {url[:200]!r}") from exc
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def host_of(url: str) -> str:
    """`host[:port]` as rate limits and robots.txt see it."""
    parts = urlsplit(url)
    return parts.netloc.lower()
