"""Stable ids for posts and pseudonymous references for authors.

We classify content, not people: an author's handle never crosses a boundary in clear. It is
replaced by a keyed hash (HMAC-SHA-256) at intake, so the same handle maps to the same reference
under one key (to spot a re-post) but cannot be reversed or linked across deployments.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["AUTHOR_REF_PATTERN", "post_id_for", "pseudonymise_handle"]

AUTHOR_REF_PATTERN = r"^ph1_[0-9a-f]{32}$"


def pseudonymise_handle(handle: str, key: bytes) -> str:
    """Map an author handle to `ph1_<32 hex>` under `key`. Case and surrounding blanks do not
    matter, because platforms treat handles case-insensitively."""
    if len(key) < 32:  # = schemas.audit.MIN_KEY_BYTES; a short key is guessable offline
        raise ValueError("the pseudonymisation key must be at least 32 bytes")
    digest = hmac.new(key, handle.strip().casefold().encode("utf-8"), hashlib.sha256)
    return "ph1_" + digest.hexdigest()[:32]


def post_id_for(platform: str, external_id: str) -> str:
    """The stable id of a post: re-collecting the same platform item yields the same id."""
    raw = f"{platform}\x1f{external_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]
