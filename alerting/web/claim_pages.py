"""The known false claims in the review UI, and the published corrections for the public.

Signed in: the library (`/known-claims`), a claim with its history, "this is a known false
claim" on a confirmed alert (a draft, with the post's URL as where it appeared), and a
supervisor's publish and retire. Public, no login, read-only: the published claims with their
official rebuttals as a page, a page per claim carrying its `ClaimReview` JSON-LD, that JSON-LD
alone, and an Atom feed — none of it names a member of staff or a post's author."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from alerting.accounts import Session
from alerting.claims.library import ClaimLibrary
from alerting.claims.publishing import RATING_WORDS, atom_feed, claimreview_jsonld
from alerting.claims.reappearance import reappearances
from alerting.digests.charts import bar_chart
from alerting.exceptions import AlertNotFound, ClaimError, ClaimNotFound, DecisionConflict
from alerting.store import AlertStore
from alerting.views import LOCAL_TZ
from schemas import AlertStatus, ClaimDraft, ClaimRating, ClaimStatus, Rebuttal, utc_now

__all__ = ["mount_claim_pages"]

Render = Callable[..., HTMLResponse]
Form = Callable[[Request, Session], Awaitable[dict[str, Any]]]


def claim_draft_from_form(form: dict[str, Any], appearance: str | None) -> ClaimDraft:
    """The analyst's form → a draft (`ValueError`/`ValidationError` say which field is off)."""
    text = str(form.get("rebuttal_text") or "").strip()
    rebuttal = None
    if text:
        rebuttal = Rebuttal(
            text=text,
            issuer=str(form.get("issuer") or "").strip(),
            url=str(form.get("rebuttal_url") or "").strip(),
            published_on=date.fromisoformat(str(form.get("published_on") or "").strip()),
        )
    variants = [v.strip() for v in str(form.get("variants") or "").splitlines() if v.strip()]
    return ClaimDraft(
        statement=str(form.get("statement") or ""),
        variants=variants,
        rating=ClaimRating(str(form.get("rating") or "false")),
        rebuttal=rebuttal,
        appearances=[appearance] if appearance else [],
    )


def mount_claim_pages(
    app: FastAPI,
    store: AlertStore,
    library: ClaimLibrary | None,
    render: Render,
    current: Callable[[Request], Session],
    checked_form: Form,
    detail_page: Callable[..., Response],
) -> None:
    router = app.router

    def missing(request: Request, session: Session | None) -> HTMLResponse:
        return render(request, "error.html", session, 404, message_key="claims.not_configured")

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # -- signed in -------------------------------------------------------------------------

    @router.get("/known-claims", response_class=HTMLResponse)
    def known_claims(request: Request) -> Response:
        session = current(request)
        if library is None:
            return missing(request, session)
        raw = request.query_params.get("status")
        status = ClaimStatus(raw) if raw in {s.value for s in ClaimStatus} else None
        return render(
            request, "known_claims.html", session, claims=library.claims(status, 500),
            status=status.value if status else "", statuses=list(ClaimStatus),
        )  # fmt: skip

    @router.get("/known-claims/{claim_id}", response_class=HTMLResponse)
    def known_claim(request: Request, claim_id: str) -> Response:
        session = current(request)
        if library is None:
            return missing(request, session)
        try:
            claim = library.get(claim_id)
        except ClaimNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        today = utc_now().astimezone(LOCAL_TZ).date()
        since = datetime.combine(today - timedelta(days=29), time(0), LOCAL_TZ)
        seen = reappearances(store.claim_sightings([claim_id], since), [claim_id], today, 30)
        back = seen[claim_id]
        days = [(f"{d:%d/%m}", n) for d, n in back.by_day.items()]
        chart = Markup(bar_chart(days, bar_height=10)) if back.total else None  # noqa: S704
        return render(request, "known_claim.html", session, claim=claim,
                      history=library.history(claim_id), done=request.query_params.get("done"),
                      reappearance=back, reappearance_chart=chart)  # fmt: skip

    @router.post("/alerts/{alert_id}/known-claim", response_class=HTMLResponse)
    async def propose(request: Request, alert_id: str) -> Response:
        session = current(request)
        form = await checked_form(request, session)
        if library is None:
            return missing(request, session)
        try:
            detail = store.get_alert(alert_id)
        except AlertNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        if detail.alert.status is not AlertStatus.CONFIRMED:
            return detail_page(
                request, session, alert_id, 409, claim_error_key="claims.needs_confirmed",
                claim_form=form,
            )  # fmt: skip
        try:
            draft = claim_draft_from_form(form, str(detail.post.raw.url))
            draft = draft.model_copy(update={"source_alert_id": alert_id})
            claim = library.create(draft, f"user:{session.user.username}")
        except (ValueError, ValidationError, ClaimError) as exc:
            return detail_page(request, session, alert_id, 422,
                               claim_error=_message(exc), claim_form=form)  # fmt: skip
        return RedirectResponse(f"/known-claims/{claim.claim_id}?done=created", status_code=303)

    @router.post("/known-claims/{claim_id}/edit", response_class=HTMLResponse)
    async def edit(request: Request, claim_id: str) -> Response:
        session = current(request)
        form = await checked_form(request, session)
        if library is None:
            return missing(request, session)
        try:
            old = library.get(claim_id)
        except ClaimNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        expected = str(form.get("expected_version") or "")
        try:
            draft = claim_draft_from_form(form, None).model_copy(update={
                "appearances": old.appearances, "tags": old.tags,
                "source_alert_id": old.source_alert_id,
            })  # fmt: skip
            library.update(claim_id, draft, f"user:{session.user.username}",
                           int(expected) if expected.isdigit() else 0)  # fmt: skip
        except DecisionConflict as exc:
            return render(request, "error.html", session, 409, message=str(exc))
        except (ValueError, ValidationError, ClaimError) as exc:
            return render(request, "known_claim.html", session, 422, claim=old,
                          history=library.history(claim_id), edit_error=_message(exc),
                          edit_form=form, reappearance=None, reappearance_chart=None)  # fmt: skip
        return RedirectResponse(f"/known-claims/{claim_id}?done=edited", status_code=303)

    async def change(
        request: Request, claim_id: str, act: Callable[[Session, dict[str, Any]], object], done: str
    ) -> Response:
        session = current(request)
        form = await checked_form(request, session)
        if library is None:
            return missing(request, session)
        try:
            act(session, form)
        except ClaimNotFound:
            return render(request, "error.html", session, 404, message_key="error.not_found")
        except ClaimError as exc:
            return render(request, "error.html", session, 409, message=str(exc))
        except (DecisionConflict, PermissionError) as exc:
            return render(request, "error.html", session, 409, message=str(exc))
        return RedirectResponse(f"/known-claims/{claim_id}?done={done}", status_code=303)

    @router.post("/known-claims/{claim_id}/publish", response_class=HTMLResponse)
    async def publish(request: Request, claim_id: str) -> Response:
        def act(session: Session, form: dict[str, Any]) -> object:
            assert library is not None
            return library.publish(claim_id, f"user:{session.user.username}", session.user.role)

        return await change(request, claim_id, act, "published")

    @router.post("/known-claims/{claim_id}/retire", response_class=HTMLResponse)
    async def retire(request: Request, claim_id: str) -> Response:
        def act(session: Session, form: dict[str, Any]) -> object:
            assert library is not None
            reason = str(form.get("reason") or "")
            return library.retire(claim_id, f"user:{session.user.username}", session.user.role,
                                  reason)  # fmt: skip

        return await change(request, claim_id, act, "retired")

    # -- public ----------------------------------------------------------------------------

    def published(claim_id: str | None = None) -> list[Any]:
        assert library is not None
        if claim_id is None:
            return library.claims(ClaimStatus.PUBLISHED, 10_000)
        try:
            claim = library.get(claim_id)
        except ClaimNotFound:
            return []
        return [claim] if claim.status is ClaimStatus.PUBLISHED else []

    @router.get("/corrections", response_class=HTMLResponse)
    def corrections(request: Request) -> Response:
        if library is None:
            return missing(request, None)
        return render(request, "corrections.html", None, claims=published(),
                      ratings=RATING_WORDS)  # fmt: skip

    @router.get("/corrections.atom")
    def corrections_feed(request: Request) -> Response:
        if library is None:
            return missing(request, None)
        body = atom_feed(published(), base_url(request), utc_now())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @router.get("/corrections/{claim_id}.jsonld")
    def correction_jsonld(request: Request, claim_id: str) -> Response:
        found = published(claim_id) if library is not None else []
        if not found:
            return JSONResponse({"detail": "not found"}, status_code=404)
        page = f"{base_url(request)}/corrections/{claim_id}"
        return JSONResponse(claimreview_jsonld(found[0], page), media_type="application/ld+json")

    @router.get("/corrections/{claim_id}", response_class=HTMLResponse)
    def correction(request: Request, claim_id: str) -> Response:
        found = published(claim_id) if library is not None else []
        if not found:
            return render(request, "error.html", None, 404, message_key="error.not_found")
        page = f"{base_url(request)}/corrections/{claim_id}"
        # every "<" escaped, so no text in the JSON can close the script element or open a
        # comment; JSON parsers read \u003c as "<"
        jsonld = json.dumps(claimreview_jsonld(found[0], page), ensure_ascii=False)
        return render(request, "correction.html", None, claim=found[0], ratings=RATING_WORDS,
                      jsonld=jsonld.replace("<", "\\u003c"))  # fmt: skip


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)
