"""The generic intake: partners and trusted-flagger feeds POST public posts, signed.

`POST /intake/posts` takes one post or `{"posts": [...]}` (up to 1,000), each in the `RawPost`
shape; an `author_handle` (or `author_ref`) is accepted for compatibility and dropped here, so
no author reference reaches the bus. Every post is validated at the door with the pipeline's
own parser: the answer says, per item, what was accepted and why anything was not — the sender
keeps what we refused, so nothing is lost silently. `source_id` is set from the partner id, so
a partner cannot pose as a source.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from starlette.concurrency import run_in_threadpool

from ingest.delivery import PostSink
from schemas import RawPost
from schemas.exceptions import CanhbaoError
from schemas.signing import PARTNER_HEADER, SIGNATURE_HEADER, ReplayGuard, SignatureError, verify
from stream_jobs.exceptions import RejectedRecord
from stream_jobs.parse import ParseLimits, parse_record

__all__ = ["MAX_BODY_BYTES", "MAX_POSTS", "create_intake_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10_000_000
MAX_POSTS = 1000


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_intake_app(
    partners: Mapping[str, bytes],
    sink: PostSink,
    *,
    limits: ParseLimits | None = None,
    tolerance_s: float = 300.0,
    clock: Callable[[], float] = time.time,
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    limits = limits or ParseLimits()
    guard = ReplayGuard(ttl_s=2 * tolerance_s, clock=clock)
    registry = registry or CollectorRegistry()
    requests = Counter(
        "canhbao_intake_requests",
        "Intake requests by outcome",
        ["partner", "outcome"],
        registry=registry,
    )
    posts_counter = Counter(
        "canhbao_intake_posts", "Posts by outcome", ["partner", "outcome"], registry=registry
    )
    app = FastAPI(title="canhbao intake", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    @app.post("/intake/posts")
    async def intake(request: Request) -> JSONResponse:
        partner = request.headers.get(PARTNER_HEADER, "")
        secret = partners.get(partner)
        if secret is None:
            requests.labels("unknown", "unauthorised").inc()
            return _error(401, f"unknown partner: set {PARTNER_HEADER}")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            requests.labels(partner, "too_large").inc()
            return _error(413, f"body over {MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            requests.labels(partner, "too_large").inc()
            return _error(413, f"body over {MAX_BODY_BYTES} bytes")
        try:
            signature = verify(
                secret, body, request.headers.get(SIGNATURE_HEADER, ""), clock(), tolerance_s
            )
        except SignatureError as exc:
            requests.labels(partner, "bad_signature").inc()
            return _error(401, str(exc))
        if not guard.first_use(f"{partner}:{signature}"):
            requests.labels(partner, "replay").inc()
            return _error(409, "this signed request was already received (replay)")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            requests.labels(partner, "malformed").inc()
            return _error(400, f"body is not JSON: {exc}")
        items: Any = (
            document.get("posts")
            if isinstance(document, dict) and "posts" in document
            else [document]
        )
        if not isinstance(items, list) or not items:
            return _error(400, 'expected a post object or {"posts": [ … ]}')
        if len(items) > MAX_POSTS:
            return _error(413, f"at most {MAX_POSTS} posts per request")
        accepted: list[RawPost] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                item = dict(item, source_id=f"partner-{partner}")
            try:
                post = parse_record(json.dumps(item).encode(), limits=limits)
            except RejectedRecord as exc:
                rejected.append({"index": index, "reason": exc.code.value, "detail": exc.reason})
                continue
            accepted.append(post)
        if accepted:
            try:
                await run_in_threadpool(sink.deliver, accepted)
            except CanhbaoError as exc:
                log.error("intake delivery failed", extra={"partner": partner, "error": str(exc)})
                requests.labels(partner, "unavailable").inc()
                return _error(503, "the bus did not accept the posts; retry later")
        posts_counter.labels(partner, "accepted").inc(len(accepted))
        posts_counter.labels(partner, "rejected").inc(len(rejected))
        outcome = "accepted" if accepted else "rejected"
        requests.labels(partner, outcome).inc()
        status = 202 if accepted else 422
        return JSONResponse(
            {
                "accepted": len(accepted),
                "post_ids": [p.post_id for p in accepted],
                "rejected": rejected,
            },
            status_code=status,
        )

    return app
