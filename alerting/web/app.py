"""The review UI: server-rendered pages (Vietnamese first), sessions and CSRF.

Which role may open which page is the one route table of `alerting.authz`, enforced before any
handler runs. Every state-changing form must come from our own origin and carry the session's
CSRF token; the login form's token is bound to a server-side pre-session, used once. Session
cookies are HttpOnly, SameSite=Strict and Secure. Logins, failed logins, decisions, audit and
digest views go to the audit log. Every value a page shows passes through Jinja's autoescaping
and has its bidi controls made visible, so markup is shown, never run, and text cannot pose as
other text.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import ValidationError

from alerting.accounts import AccountStore, LoginRateLimited, LoginRefused, Permission, Session
from alerting.accounts.roles import allows
from alerting.authz import (
    SESSION_COOKIE,
    NotAuthenticated,
    NotPermitted,
    api_denied,
    face_of,
    principal,
)
from alerting.claims.library import ClaimLibrary
from alerting.exceptions import AlertNotFound, ClaimNotFound, DecisionConflict
from alerting.review import SkipReason, SupervisorOnly, decide_alert, decide_story
from alerting.security import is_same_origin
from alerting.store import AlertQuery, AlertStore
from alerting.store.decisions import holder
from alerting.views import LOCAL_TZ, local_display
from alerting.web.claim_pages import mount_claim_pages
from alerting.web.highlight import segments
from alerting.web.i18n import LANGUAGES, translate
from schemas import (
    AlertStatus,
    AnalystDecision,
    AuditAction,
    Claim,
    ClaimRating,
    DecisionAction,
    EvidenceKind,
    Label,
    Platform,
    Severity,
    show_bidi_controls,
    utc_now,
)

__all__ = ["SESSION_COOKIE", "csv_cell", "mount_review_ui"]

LOGIN_CSRF_COOKIE = "canhbao_login"
LANG_COOKIE = "canhbao_lang"
_PAGE_SIZE = 50
# A digest page is a document: no scripts, no outside requests.
_DIGEST_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_DIGEST_FILE = re.compile(r"(day|week)-\d{4}-\d{2}-\d{2}\.(html|pdf)")


class _BadForm(Exception):
    """A form without our origin or a valid CSRF token: not a permissions problem."""


# A cell starting with one of these is a formula to spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: formula starts are quoted with `'`."""
    text = show_bidi_controls(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _shown(value: object) -> object:
    """Jinja's `finalize`: every string a template prints has its bidi controls made visible
    (markup stays markup: the few values a template marks safe, already escaped, keep that)."""
    if isinstance(value, Markup):
        return Markup(show_bidi_controls(str(value)))  # noqa: S704 (escaped before it was marked)
    return show_bidi_controls(value) if isinstance(value, str) else value


def _local_date(value: str | None, next_day: bool = False) -> datetime | None:
    """A `YYYY-MM-DD` from a date input, as the start of that local day (or of the next)."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if next_day else 0), time(0), LOCAL_TZ)


def _known_claim(library: ClaimLibrary | None, claim_id: str | None) -> Claim | None:
    """The claim a piece of evidence names, as the library has it now (it may have been
    retired or edited since the match)."""
    if library is None or claim_id is None:
        return None
    try:
        return library.get(claim_id)
    except ClaimNotFound:
        return None


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/queue"


def _enum_or_none(enum: type[Any], raw: str | None) -> Any:
    try:
        return enum(raw) if raw else None
    except ValueError:
        return None


def mount_review_ui(
    app: FastAPI,
    store: AlertStore,
    accounts: AccountStore,
    destinations: Sequence[str],
    *,
    secure_cookies: bool = True,
    claim_minutes: float = 15.0,
    digests_dir: Path | None = None,
    claims: ClaimLibrary | None = None,
) -> None:
    env = Environment(
        loader=PackageLoader("alerting.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_shown,
    )
    env.filters["local"] = local_display
    # The app's own router: its routes are plain entries of `app.routes` (the route × role test
    # enumerates them) and the app-wide authorisation dependency applies to each.
    router = app.router
    app.mount(
        "/static", StaticFiles(directory=str(files("alerting.web") / "static")), name="static"
    )

    def lang_of(request: Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, "vi")
        return lang if lang in LANGUAGES else "vi"

    def render(
        request: Request,
        template: str,
        session: Session | None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        lang = lang_of(request)

        def t(key: str, **values: object) -> str:
            return translate(lang, key, **values)

        body = env.get_template(template).render(
            t=t,
            lang=lang,
            user=session.user if session else None,
            csrf=session.csrf_token if session else "",
            can=lambda p: session is not None and allows(session.user.role, Permission(p)),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(body, status_code=status_code)

    def current(request: Request) -> Session:
        """The signed-in session of this request (the route table has checked its role)."""
        session = principal(request).session
        if session is None:
            raise NotAuthenticated("ui")
        return session

    async def checked_form(request: Request, session: Session) -> dict[str, Any]:
        if not is_same_origin(request):
            raise _BadForm
        form = await request.form()
        offered = str(form.get("csrf_token", ""))
        if not hmac.compare_digest(offered.encode(), session.csrf_token.encode()):
            raise _BadForm
        return {k: form.getlist(k) if k == "destinations" else form.get(k) for k in form}

    def _denied(request: Request, exc: Exception) -> Response:
        if face_of(request.url.path) == "api":
            return api_denied(request, exc)
        if isinstance(exc, NotAuthenticated):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return render(request, "error.html", None, 403, message_key="error.forbidden")

    app.add_exception_handler(NotAuthenticated, _denied)
    app.add_exception_handler(NotPermitted, _denied)

    @app.exception_handler(_BadForm)
    def _bad_form(request: Request, exc: _BadForm) -> Response:
        return render(request, "error.html", None, 403, message_key="error.csrf")

    # -- login -----------------------------------------------------------------------------

    def login_form(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The login page with a fresh pre-session: its id in a cookie, its token in the form."""
        ident, token = accounts.open_presession()
        response = render(request, "login.html", None, status_code, login_csrf=token, **context)
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            ident,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            max_age=3600,
        )
        return response

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None) -> Response:
        return login_form(request, next=_safe_next(next))

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        offered = str(form.get("csrf_token", ""))
        if (
            not is_same_origin(request)
            or not cookie
            or not accounts.consume_presession(cookie, offered)
        ):
            return render(request, "error.html", None, 403, message_key="error.csrf")
        username = str(form.get("username", "")).strip()[:100]
        password = str(form.get("password", ""))
        client = request.client.host if request.client else "unknown"
        next_path = _safe_next(str(form.get("next", "")))
        try:
            user = accounts.authenticate(username, password, client)
        except (LoginRefused, LoginRateLimited) as exc:
            store.record_audit(
                f"login:{username or '?'}",
                AuditAction.USER_LOGIN_FAILED,
                f"user:{username or '?'}",
                None,
                {"client": client, "rate_limited": isinstance(exc, LoginRateLimited)},
            )
            error = (
                translate(lang_of(request), "login.limited", seconds=exc.retry_after_s)
                if isinstance(exc, LoginRateLimited)
                else translate(lang_of(request), "login.refused")
            )
            status = 429 if isinstance(exc, LoginRateLimited) else 401
            return login_form(request, status, error=error, next=next_path, username=username)
        token, _ = accounts.open_session(user)
        if not allows(user.role, Permission.VIEW_QUEUE):
            next_path = "/digests"  # officials read digests; the queue is not theirs
        store.record_audit(
            user.username,
            AuditAction.USER_LOGIN,
            f"user:{user.username}",
            None,
            {"client": client, "role": user.role.value},
        )
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        session = current(request)
        await checked_form(request, session)
        token = request.cookies.get(SESSION_COOKIE)
        if token is not None:
            accounts.close_session(token)
            store.record_audit(
                session.user.username, AuditAction.USER_LOGOUT, f"user:{session.user.username}"
            )
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/lang/{code}")
    def set_language(request: Request, code: str, next: str | None = None) -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        if code in LANGUAGES:
            response.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=365 * 86400)
        return response

    # -- queue -----------------------------------------------------------------------------

    @router.get("/")
    def home() -> Response:
        return RedirectResponse("/queue", status_code=303)

    @router.get("/queue", response_class=HTMLResponse)
    def queue(
        request: Request,
        status: str | None = None,
        label: str | None = None,
        severity: str | None = None,
        platform: str | None = None,
        q: str | None = None,
        mine: str | None = None,
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
    ) -> Response:
        session = current(request)
        chosen_status = (
            (_enum_or_none(AlertStatus, status) if status != "all" else None)
            if status
            else AlertStatus.PENDING
        )
        query = AlertQuery(
            status=chosen_status,
            label=_enum_or_none(Label, label),
            severity=_enum_or_none(Severity, severity),
            platform=_enum_or_none(Platform, platform),
            limit=_PAGE_SIZE,
            cursor=cursor or None,
            text=(q or "").strip()[:200] or None,
            assignee=session.user.username if mine else None,
            since=_local_date(since),
            until=_local_date(until, next_day=True),
        )
        page = store.list_alerts(query)
        posts = store.posts_by_id([a.post_id for a in page.alerts])
        filters = {
            "status": status or AlertStatus.PENDING.value,
            "label": label or "",
            "severity": severity or "",
            "platform": platform or "",
            "q": (q or "").strip()[:200],
            "mine": "1" if mine else "",
            "since": since if _local_date(since) else "",
            "until": until if _local_date(until) else "",
        }
        next_url = (
            "/queue?"
            + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": page.next_cursor})
            if page.next_cursor
            else None
        )
        now = utc_now()
        return render(
            request,
            "queue.html",
            session,
            holders={a.alert_id: holder(a, now) for a in page.alerts},
            alerts=page.alerts,
            posts=posts,
            filters=filters,
            next_url=next_url,
            first_page=cursor is None,
            labels=list(Label),
            severities=list(Severity),
            platforms=list(Platform),
            statuses=list(AlertStatus),
        )

    # -- detail and decisions --------------------------------------------------------------

    def detail_page(
        request: Request, session: Session, alert_id: str, status_code: int = 200, **extra: Any
    ) -> Response:
        try:
            detail = store.get_alert(alert_id)
        except AlertNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        classification = detail.classification
        every = classification.evidence if classification else []
        evidence = [e for e in every if e.kind is not EvidenceKind.CLAIM]
        known = [
            (e, _known_claim(claims, e.claim_id)) for e in every if e.kind is EvidenceKind.CLAIM
        ]
        post = detail.post
        held_by = holder(detail.alert, utc_now())
        story = [
            a
            for a in store.list_alerts(
                AlertQuery(cluster_id=detail.alert.cluster_id, limit=100)
            ).alerts
            if a.alert_id != alert_id and a.status in (AlertStatus.PENDING, AlertStatus.ESCALATED)
        ]
        analysts = (
            [u.username for u in accounts.users() if u.active and allows(u.role, Permission.DECIDE)]
            if allows(session.user.role, Permission.ASSIGN)
            else []
        )
        return render(
            request,
            "detail.html",
            session,
            status_code,
            detail=detail,
            alert=detail.alert,
            post=post,
            title_segments=segments(post.title or "", []) if post.title else [],
            text_segments=segments(post.text, evidence),
            evidence=evidence,
            known_claims=known,
            can_propose_claim=claims is not None and detail.alert.status is AlertStatus.CONFIRMED,
            ratings=list(ClaimRating),
            classification=classification,
            history=store.audit_log(target=alert_id, limit=200),
            labels=list(Label),
            destinations=list(destinations),
            decidable=detail.alert.status in (AlertStatus.PENDING, AlertStatus.ESCALATED),
            supervisor_only=detail.alert.status is AlertStatus.ESCALATED
            and not allows(session.user.role, Permission.DECIDE_ESCALATED),
            held_by=held_by,
            story=story,
            held_by_other=held_by is not None and held_by != session.user.username,
            analysts=analysts,
            **extra,
        )

    @router.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert_detail(request: Request, alert_id: str) -> Response:
        session = current(request)
        params = request.query_params
        done = _enum_or_none(DecisionAction, params.get("done"))
        return detail_page(
            request,
            session,
            alert_id,
            done=done.value if done else None,
            story_outcome=_story_outcome(params.get("applied"), params.get("skipped")),
        )

    @router.post("/alerts/{alert_id}/decision", response_class=HTMLResponse)
    async def decide(request: Request, alert_id: str) -> Response:
        session = current(request)
        form = await checked_form(request, session)
        lang = lang_of(request)
        errors: dict[str, str] = {}
        action = _enum_or_none(DecisionAction, form.get("action"))
        if action is None:
            errors["action"] = translate(lang, "action.title")
        chosen = [d for d in form.get("destinations", []) if d in destinations]
        # Checked here as well as by the contract, so that every field's message shows at once.
        if action is DecisionAction.CONFIRM and not _enum_or_none(Label, form.get("category")):
            errors["category"] = translate(lang, "error.category")
        if action is not DecisionAction.CONFIRM and chosen:
            errors["destinations"] = translate(lang, "error.destinations")
        if len(str(form.get("reason") or "").strip()) < 3:
            errors["reason"] = translate(lang, "error.reason")
        try:
            alert = store.get_alert(alert_id).alert
        except AlertNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        decision = None
        if not errors:
            try:
                decision = AnalystDecision(
                    alert_id=alert_id,
                    action=action,
                    analyst=session.user.username,
                    reason=str(form.get("reason") or "").strip(),
                    category=_enum_or_none(Label, form.get("category")),
                    destinations=chosen,
                    fact_check_url=str(form.get("fact_check_url") or "").strip() or None,
                    decided_at=utc_now(),
                )
            except ValidationError as exc:
                errors = _decision_errors(exc, lang)
        if errors or decision is None:
            return detail_page(request, session, alert_id, 422, errors=errors, form=form)
        expected = str(form.get("expected_version") or "")
        try:
            decide_alert(
                store,
                session.user,
                alert,
                decision,
                int(expected) if expected.isdigit() else None,
            )
        except SupervisorOnly:
            raise NotPermitted("ui", Permission.DECIDE_ESCALATED.value) from None
        except DecisionConflict as exc:
            conflict = translate(lang, "action.conflict", detail=str(exc))
            return detail_page(request, session, alert_id, 409, conflict=conflict)
        query: dict[str, str] = {"done": decision.action.value}
        if form.get("whole_story"):
            outcome = decide_story(store, session.user, alert, decision)
            query["applied"] = str(len(outcome.applied))
            query["skipped"] = ",".join(f"{r}:{n}" for r, n in sorted(outcome.counts().items()))
        return RedirectResponse(f"/alerts/{alert_id}?{urlencode(query)}", status_code=303)

    # -- claims ----------------------------------------------------------------------------

    @router.post("/alerts/{alert_id}/claim")
    async def claim(request: Request, alert_id: str) -> Response:
        session = current(request)
        form = await checked_form(request, session)
        until = utc_now() + timedelta(minutes=claim_minutes)
        assignee = str(form.get("assignee") or "")
        try:
            if assignee and assignee != session.user.username:
                if not allows(session.user.role, Permission.ASSIGN):
                    raise NotPermitted("ui", Permission.ASSIGN.value)
                target = accounts.get_user(assignee)
                if target is None or not allows(target.role, Permission.DECIDE):
                    return detail_page(
                        request,
                        session,
                        alert_id,
                        422,
                        conflict=translate(lang_of(request), "claim.bad_assignee"),
                    )
                store.claim(alert_id, assignee, until, assigned_by=session.user.username)
            elif form.get("release"):
                store.release(alert_id, session.user.username)
            else:
                store.claim(alert_id, session.user.username, until)
        except AlertNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        except DecisionConflict as exc:
            conflict = translate(lang_of(request), "action.conflict", detail=str(exc))
            return detail_page(request, session, alert_id, 409, conflict=conflict)
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    mount_claim_pages(app, store, claims, render, current, checked_form, detail_page)

    # -- digests ---------------------------------------------------------------------------

    @router.get("/digests", response_class=HTMLResponse)
    def digest_list(request: Request) -> Response:
        session = current(request)
        names = sorted(
            (p.stem for p in digests_dir.glob("*.html"))
            if digests_dir and digests_dir.is_dir()
            else [],
            reverse=True,
        )
        has_pdf = {n for n in names if digests_dir and (digests_dir / f"{n}.pdf").exists()}
        return render(request, "digests.html", session, names=names, has_pdf=has_pdf)

    @router.get("/digests/{name}")
    def digest_file(request: Request, name: str) -> Response:
        session = current(request)
        match = _DIGEST_FILE.fullmatch(name)
        path = digests_dir / name if digests_dir and match else None
        if path is None or not path.is_file():
            return render(request, "error.html", None, 404, message_key="error.not_found")
        store.record_audit(
            session.user.username, AuditAction.DIGEST_VIEWED, f"digest:{name}", None, {}
        )
        media = "application/pdf" if name.endswith(".pdf") else "text/html; charset=utf-8"
        return Response(
            path.read_bytes(),
            media_type=media,
            headers={"Content-Security-Policy": _DIGEST_CSP},
        )

    # -- audit -----------------------------------------------------------------------------

    @router.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, target: str | None = None, after: int = 0) -> Response:
        session = current(request)
        events = store.audit_log(target=target or None, after_seq=max(0, after), limit=200)
        store.record_audit(
            session.user.username,
            AuditAction.AUDIT_VIEWED,
            f"audit:{target or 'all'}",
            None,
            {"via": "ui", "after_seq": max(0, after), "returned": len(events)},
        )
        return render(request, "audit.html", session, events=events, target=target or "")

    @router.get("/audit.csv")
    def audit_csv(request: Request, target: str | None = None) -> Response:
        session = current(request)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["seq", "at", "at_local", "actor", "action", "target", "reason", "details", "hash"]
        )
        after = 0
        while True:
            events = store.audit_log(target=target or None, after_seq=after, limit=1000)
            for e in events:
                writer.writerow(
                    [
                        csv_cell(cell)
                        for cell in (
                            e.seq,
                            e.at.isoformat(),
                            local_display(e.at),
                            e.actor,
                            e.action.value,
                            e.target,
                            e.reason or "",
                            json.dumps(e.details, ensure_ascii=False, sort_keys=True),
                            e.hash,
                        )
                    ]
                )
            if len(events) < 1000:
                break
            after = events[-1].seq
        store.record_audit(
            session.user.username, AuditAction.AUDIT_EXPORTED, f"audit:{target or 'all'}"
        )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )


def _story_outcome(applied: str | None, skipped: str | None) -> dict[str, Any] | None:
    """The outcome of a story decision, from the redirect's query (known reasons only)."""
    if not applied or not applied.isdigit():
        return None
    reasons: dict[str, int] = {}
    for part in (skipped or "").split(","):
        reason, _, count = part.partition(":")
        if reason in {r.value for r in SkipReason} and count.isdigit():
            reasons[reason] = int(count)
    return {"applied": int(applied), "skipped": reasons, "skipped_total": sum(reasons.values())}


def _decision_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"])
        if field == "reason":
            errors["reason"] = translate(lang, "error.reason")
        elif field == "fact_check_url":
            errors["fact_check_url"] = translate(lang, "error.fact_check")
        elif "category" in message:
            errors["category"] = translate(lang, "error.category")
        elif "destinations" in message:
            errors["destinations"] = translate(lang, "error.destinations")
        else:
            errors.setdefault("action", message)
    return errors
