"""One authorisation model for both faces of the review service: the JSON API and the UI.

Every route is in `ROUTE_RULES` with what it needs: nothing (`PUBLIC`), any signed-in account
(`SIGNED_IN`), or a permission of the account's role. One dependency, installed on the whole
app, enforces the table before any handler runs, so a handler cannot forget a check; a route
missing from the table is refused (fail closed) and fails the route × role test. The API face
authenticates by bearer token (tokens belong to accounts, `canhbao users token …`), the UI face
by session cookie; either way the principal is an account, with its role, that must be active.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from fastapi import Request
from fastapi.responses import JSONResponse

from alerting.accounts import AccountStore, Permission, Session, User, allows

__all__ = [
    "PUBLIC",
    "ROUTE_RULES",
    "SESSION_COOKIE",
    "SIGNED_IN",
    "Access",
    "NotAuthenticated",
    "NotPermitted",
    "Principal",
    "api_denied",
    "authoriser",
    "face_of",
    "principal",
    "rule_for",
]


class Access(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"


PUBLIC: Final = Access.PUBLIC
SIGNED_IN: Final = Access.SIGNED_IN

Rule = Permission | Access

ROUTE_RULES: Mapping[tuple[str, str], Rule] = {
    # probes, metrics and the API's description
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    # JSON API
    ("GET", "/api/alerts"): Permission.VIEW_QUEUE,
    ("GET", "/api/alerts/{alert_id}"): Permission.VIEW_QUEUE,
    ("POST", "/api/alerts/{alert_id}/decision"): Permission.DECIDE,
    ("GET", "/api/audit"): Permission.VIEW_AUDIT,
    # UI
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/lang/{code}"): PUBLIC,
    ("GET", "/queue"): Permission.VIEW_QUEUE,
    ("GET", "/alerts/{alert_id}"): Permission.VIEW_QUEUE,
    ("POST", "/alerts/{alert_id}/decision"): Permission.DECIDE,
    ("POST", "/alerts/{alert_id}/claim"): Permission.DECIDE,
    ("GET", "/digests"): Permission.VIEW_DIGESTS,
    ("GET", "/digests/{name}"): Permission.VIEW_DIGESTS,
    ("GET", "/audit"): Permission.VIEW_AUDIT,
    ("GET", "/audit.csv"): Permission.EXPORT_AUDIT,
    # the known false claims: analysts propose from a confirmed alert, supervisors publish
    ("GET", "/known-claims"): Permission.VIEW_QUEUE,
    ("GET", "/known-claims/{claim_id}"): Permission.VIEW_QUEUE,
    ("POST", "/alerts/{alert_id}/known-claim"): Permission.DECIDE,
    ("POST", "/known-claims/{claim_id}/edit"): Permission.DECIDE,
    ("POST", "/known-claims/{claim_id}/publish"): Permission.PUBLISH_CLAIMS,
    ("POST", "/known-claims/{claim_id}/retire"): Permission.PUBLISH_CLAIMS,
    # published corrections: public, read-only, no personal data
    ("GET", "/corrections"): PUBLIC,
    ("GET", "/corrections.atom"): PUBLIC,
    ("GET", "/corrections/{claim_id}"): PUBLIC,
    ("GET", "/corrections/{claim_id}.jsonld"): PUBLIC,
    # static assets (a mount, outside the dependency: public by nature)
    ("GET", "/static"): PUBLIC,
}

Face = Literal["api", "ui"]


def face_of(path: str) -> Face:
    return "api" if path.startswith("/api/") or path == "/api" else "ui"


class NotAuthenticated(Exception):
    def __init__(self, face: Face) -> None:
        super().__init__("sign in first" if face == "ui" else "missing or unknown bearer token")
        self.face = face


class NotPermitted(Exception):
    def __init__(self, face: Face, needed: str) -> None:
        super().__init__(f"your role may not do this (needs {needed})")
        self.face = face
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session: Session | None  # UI only: carries the CSRF token


def rule_for(method: str, path_template: str) -> Rule | None:
    return ROUTE_RULES.get(("GET" if method == "HEAD" else method, path_template))


SESSION_COOKIE = "canhbao_session"


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def authoriser(accounts: AccountStore) -> Callable[[Request], None]:
    """The app-wide dependency: checks the matched route against the table."""

    def authorise(request: Request) -> None:
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path)
        rule = rule_for(request.method, template)
        face = face_of(template)
        if rule is None:
            raise NotPermitted(face, "a rule in ROUTE_RULES")  # fail closed
        if rule is PUBLIC:
            request.state.principal = None
            return
        user: User | None = None
        session: Session | None = None
        if face == "api":
            token = _bearer(request)
            user = accounts.token_user(token) if token else None
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            session = accounts.session(cookie) if cookie else None
            user = session.user if session else None
        if user is None:
            raise NotAuthenticated(face)
        if rule is not SIGNED_IN and not allows(user.role, Permission(rule)):
            raise NotPermitted(face, str(rule))
        request.state.principal = Principal(user, session)

    return authorise


def principal(request: Request) -> Principal:
    """The authorised account of this request (after `authorise`)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise NotAuthenticated(face_of(request.url.path))
    return found


def api_denied(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotAuthenticated):
        return JSONResponse(
            {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return JSONResponse({"detail": str(exc)}, status_code=403)
