"""HTTP hardening shared by the API and the UI: response headers, the same-origin check for
state-changing browser requests, and the uvicorn settings for forwarded headers.

- Every response gets a strict Content-Security-Policy (scripts and styles only from our own
  `/static`, no inline script; `frame-ancestors 'none'` against clickjacking), `nosniff`, a
  same-origin referrer policy and `X-Frame-Options: DENY` for older browsers. A route that sets
  its own CSP (digests: no scripts at all) keeps it.
- A browser POST must come from our own origin: the `Origin` header (or, without one,
  `Sec-Fetch-Site`) is checked. Cookies are not isolated by port, so a page on another port of
  the same host can plant cookies; only the origin tells such a request apart.
- Forwarded headers (`X-Forwarded-For`, `-Proto`) are believed only from the proxies listed in
  `CANHBAO_REVIEW_TRUSTED_PROXIES` (none by default): otherwise any client could pick the
  address that rate limits and the audit log see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SECURITY_HEADERS", "install_security_headers", "is_same_origin", "uvicorn_proxy"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class _SecurityHeaders:
    """Plain ASGI middleware (Starlette's `BaseHTTPMiddleware` costs a task and a stream per
    request): adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if path not in ("/healthz", "/metrics"):
                    headers.setdefault("Cache-Control", "no-store")  # pages hold post texts
            await send(message)

        await self.app(scope, receive, with_headers)


def install_security_headers(app: FastAPI) -> None:
    app.add_middleware(_SecurityHeaders)


def is_same_origin(request: Request) -> bool:
    """True when a state-changing browser request comes from a page of this service."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None:
        if origin == "null":
            return False
        return urlsplit(origin).netloc.lower() == host.lower()
    # Older browsers omit Origin on same-origin form posts; Sec-Fetch-Site still says.
    site = request.headers.get("sec-fetch-site")
    return site in (None, "same-origin", "none")


def uvicorn_proxy(trusted: Sequence[str]) -> dict[str, Any]:
    """uvicorn's forwarded-header settings: off unless proxies are named. (uvicorn trusts
    127.0.0.1 by default, which would let any local client spoof its address.)"""
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(trusted)}
