"""The review API: list and inspect alerts, record analysts' decisions, read the audit log.

Authentication is by bearer token (one per analyst, from settings); the analyst's name recorded in
the audit log comes from the token, never from the request body.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, ValidationError

from alerting.exceptions import AlertNotFound, DecisionConflict, StoreError
from alerting.store import AlertQuery, AlertStore
from alerting.views import alert_view, audit_view, detail_view
from schemas import (
    AlertStatus,
    AnalystDecision,
    DecisionAction,
    Label,
    Platform,
    Severity,
    utc_now,
)

__all__ = ["DecisionRequest", "create_app"]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: DecisionAction
    reason: str
    category: Label | None = None
    destinations: list[str] = []
    fact_check_url: str | None = None
    expected_version: int | None = None


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors(include_url=False)
    ]


_bearer = HTTPBearer(auto_error=False)


def current_analyst(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The analyst behind the bearer token (constant-time comparison), or 401."""
    tokens: Mapping[str, str] = request.app.state.tokens
    if credentials is not None:
        offered = credentials.credentials.encode()
        for token, name in tokens.items():
            if hmac.compare_digest(offered, token.encode()):
                return name
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or unknown bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )


Analyst = Annotated[str, Depends(current_analyst)]


def create_app(
    store: AlertStore,
    *,
    tokens: Mapping[str, str],
    destinations: Sequence[str],
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    app = FastAPI(title="canhbao review API", version="1")
    app.state.tokens = dict(tokens)
    known_destinations = set(destinations)

    @app.exception_handler(StoreError)
    def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        body = generate_latest(registry) if registry is not None else b""
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/alerts")
    def list_alerts(
        _: Analyst,
        status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
        label: Label | None = None,
        severity: Severity | None = None,
        platform: Platform | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
        q: Annotated[
            str | None, Query(max_length=200, description="words, accents optional")
        ] = None,
    ) -> dict[str, Any]:
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-11-29T08:00+07:00")
        query = AlertQuery(status_, label, severity, platform, since, until, limit, cursor, q)
        try:
            page = store.list_alerts(query)
        except StoreError as exc:
            if "cursor" in str(exc):
                raise HTTPException(422, str(exc)) from None
            raise
        return {"alerts": [alert_view(a) for a in page.alerts], "next_cursor": page.next_cursor}

    @app.get("/api/alerts/{alert_id}")
    def get_alert(alert_id: str, _: Analyst) -> dict[str, Any]:
        try:
            detail = store.get_alert(alert_id)
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        return detail_view(detail, store.audit_log(target=alert_id, limit=1000))

    @app.post("/api/alerts/{alert_id}/decision")
    def decide(alert_id: str, body: DecisionRequest, who: Analyst) -> dict[str, Any]:
        unknown = sorted(set(body.destinations) - known_destinations)
        if unknown:
            raise HTTPException(
                422,
                [{"field": "destinations", "message": f"unknown destination(s): {unknown}"}],
            )
        try:
            decision = AnalystDecision(
                alert_id=alert_id,
                action=body.action,
                analyst=who,
                reason=body.reason.strip(),
                category=body.category,
                destinations=body.destinations,
                fact_check_url=body.fact_check_url,
                decided_at=utc_now(),
            )
        except ValidationError as exc:
            raise HTTPException(422, _field_errors(exc)) from None
        try:
            updated = store.decide(decision, expected_version=body.expected_version)
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        except DecisionConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {"alert": alert_view(updated), "decision": decision.model_dump(mode="json")}

    @app.get("/api/audit")
    def audit(
        _: Analyst,
        target: str | None = None,
        after_seq: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        events = store.audit_log(target=target, after_seq=after_seq, limit=limit)
        return {"events": [audit_view(e) for e in events]}

    return app
