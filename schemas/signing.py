"""Signed HTTP messages, both ways: partners signing posts to our intake, and us signing webhook
deliveries to the agencies. Header `X-Canhbao-Signature: t=<unix seconds>,v1=<hex>`, where v1 is
HMAC-SHA-256 over `"<t>." + body` under the shared secret (the scheme payment webhooks use).

Replay protection is twofold: the timestamp must be within `tolerance_s` of our clock, and a
signature is accepted once (`ReplayGuard` remembers them for twice the tolerance).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["ReplayGuard", "SignatureError", "sign", "verify"]

SIGNATURE_HEADER = "X-Canhbao-Signature"
PARTNER_HEADER = "X-Canhbao-Partner"


class SignatureError(ValueError):
    """Why a request's signature was refused (the message is safe to show the sender)."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("signature header must be `t=<unix seconds>,v1=<hex>`")
    return timestamp, signatures


def verify(secret: bytes, body: bytes, header: str, now: float, tolerance_s: float) -> str:
    """The matching signature (for the replay guard), or `SignatureError`."""
    timestamp, signatures = _parse(header)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp is more than {tolerance_s:.0f} s from our clock")
    expected = sign(secret, body, timestamp).partition(",v1=")[2]
    for candidate in signatures:  # several v1 values: a partner rotating its secret
        if hmac.compare_digest(candidate, expected):
            return candidate
    raise SignatureError("signature does not match")


class ReplayGuard:
    """Signatures seen recently; bounded in time and size. Per process: run one intake replica
    per partner endpoint, or put a shared store in front, if replays across replicas matter."""

    def __init__(
        self, ttl_s: float, max_entries: int = 200_000, clock: Callable[[], float] = time.time
    ) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now or len(self._seen) > self._max
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now + self._ttl
            return True
