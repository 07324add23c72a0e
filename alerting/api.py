"""The review API: list and inspect alerts, record analysts' decisions, read the audit log.

Authentication is by bearer token; every token belongs to an account (`canhbao users token
issue`) and acts with that account's role, and only while the account is active. Which role may
call which route is one table for the API and the UI (`alerting.authz.ROUTE_RULES`). The name
recorded in the audit log is the account's, never one from the request body.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, ValidationError

from alerting.accounts import AccountStore
from alerting.authz import (
    NotAuthenticated,
    NotPermitted,
    Principal,
    api_denied,
    authoriser,
    principal,
)
from alerting.exceptions import AlertNotFound, DecisionConflict, StoreError
from alerting.review import SupervisorOnly, decide_alert, decide_story
from alerting.security import install_security_headers
from alerting.store import AlertQuery, AlertStore
from alerting.views import alert_view, api_docs_page, audit_view, detail_view
from schemas import (
    AlertStatus,
    AnalystDecision,
    AuditAction,
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
    whole_story: bool = False


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors(include_url=False)
    ]


Who = Annotated[Principal, Depends(principal)]


def create_app(
    store: AlertStore,
    *,
    accounts: AccountStore,
    destinations: Sequence[str],
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """The API app; `alerting.web.mount_review_ui` adds the UI to it. FastAPI's own docs pages
    (which load scripts from a CDN) are off: `/docs` is rendered here from the schema."""
    app = FastAPI(
        title="canhbao review API",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(authoriser(accounts))],
    )
    known_destinations = set(destinations)
    install_security_headers(app)
    app.add_exception_handler(NotAuthenticated, api_denied)
    app.add_exception_handler(NotPermitted, api_denied)

    @app.exception_handler(StoreError)
    def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(api_docs_page(app.openapi()))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        body = generate_latest(registry) if registry is not None else b""
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/alerts")
    def list_alerts(
        _: Who,
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
    def get_alert(alert_id: str, _: Who) -> dict[str, Any]:
        try:
            detail = store.get_alert(alert_id)
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        return detail_view(detail, store.audit_log(target=alert_id, limit=1000))

    @app.post("/api/alerts/{alert_id}/decision")
    def decide(alert_id: str, body: DecisionRequest, who: Who) -> dict[str, Any]:
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
                analyst=who.user.username,
                reason=body.reason.strip(),
                category=body.category,
                destinations=body.destinations,
                fact_check_url=body.fact_check_url,
                decided_at=utc_now(),
            )
        except ValidationError as exc:
            raise HTTPException(422, _field_errors(exc)) from None
        try:
            alert = store.get_alert(alert_id).alert
            updated = decide_alert(store, who.user, alert, decision, body.expected_version)
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        except SupervisorOnly as exc:
            raise HTTPException(403, str(exc)) from None
        except DecisionConflict as exc:
            raise HTTPException(409, str(exc)) from None
        result: dict[str, Any] = {
            "alert": alert_view(updated),
            "decision": decision.model_dump(mode="json"),
        }
        if body.whole_story:
            outcome = decide_story(store, who.user, alert, decision)
            result["story"] = {
                "applied": outcome.applied,
                "skipped": [{"alert_id": a, "reason": r.value} for a, r in outcome.skipped],
            }
        return result

    @app.get("/api/audit")
    def audit(
        who: Who,
        target: str | None = None,
        after_seq: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        events = store.audit_log(target=target, after_seq=after_seq, limit=limit)
        store.record_audit(
            who.user.username,
            AuditAction.AUDIT_VIEWED,
            f"audit:{target or 'all'}",
            None,
            {"via": "api", "after_seq": after_seq, "returned": len(events)},
        )
        return {"events": [audit_view(e) for e in events]}

    return app
