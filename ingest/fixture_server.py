"""A scriptable HTTP server on loopback, for the collectors' tests and `canhbao bench collect`.

Each path answers with a list of `Reply`s, one per request (the last one repeats), so a test
can say "429 with Retry-After, then 200" or "truncated body, then the whole one". Replies can be
slow, gzipped, truncated mid-body, huge, or conditional (ETag → 304). Every request is recorded.
It is a real server on a real socket: the collectors' HTTP stack is exercised end to end.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["FixtureServer", "Recorded", "Reply", "serve_fixtures"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line: a slow or hanging server
    truncate_at: int | None = None  # close after this many body bytes (Content-Length says more)
    etag: str | None = None  # answer 304 to a matching If-None-Match
    gzip: bool = False
    huge_bytes: int = 0  # stream this many bytes, chunked, with no Content-Length

    @classmethod
    def text(
        cls,
        body: str,
        content_type: str = "text/html; charset=utf-8",
        *,
        status: int = 200,
        etag: str | None = None,
        delay_s: float = 0.0,
    ) -> Reply:
        return cls(
            status=status,
            body=body.encode("utf-8"),
            etag=etag,
            delay_s=delay_s,
            headers={"Content-Type": content_type},
        )


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `FixtureServer.requests` instead."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        fixture = self.server.fixture
        fixture.record(
            Recorded(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
                time.monotonic(),
            )
        )
        reply = fixture.next_reply(parts.path)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.etag and self.headers.get("If-None-Match") == reply.etag:
            self.send_response(304)
            self.send_header("ETag", reply.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = gzip.compress(reply.body) if reply.gzip else reply.body
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.etag:
            self.send_header("ETag", reply.etag)
        if reply.gzip:
            self.send_header("Content-Encoding", "gzip")
        if reply.huge_bytes:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < reply.huge_bytes:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: that is what the test wants
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if reply.truncate_at is not None:
            self.wfile.write(payload[: reply.truncate_at])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fixture: FixtureServer

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (after a size limit, a timeout) is expected here."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FixtureServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.fixture = self
        self._routes: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._routes[path] = list(replies) or [Reply(status=204)]

    def next_reply(self, path: str) -> Reply:
        with self._lock:
            replies = self._routes.get(path)
            if not replies:
                return Reply(status=404, body=b"not found", headers={"Content-Type": "text/plain"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def hits(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> FixtureServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serve_fixtures() -> Iterator[FixtureServer]:
    server = FixtureServer().start()
    try:
        yield server
    finally:
        server.stop()
