"""`canhbao digest`: a day's or a week's digest for officials, as HTML and PDF; optionally sent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

import typer

from canhbao._cli_common import fail, load_settings
from schemas.exceptions import CanhbaoError

__all__ = ["digest"]


def digest(
    period: Annotated[Literal["day", "week"], typer.Option()] = "day",
    day: Annotated[
        str | None,
        typer.Option("--date", help="local date in the period (default: yesterday / last week)"),
    ] = None,
    pdf: Annotated[bool, typer.Option(help="also print a PDF (needs chromium)")] = True,
    send: Annotated[bool, typer.Option(help="email it to routing.yaml's digests list")] = False,
    routing: Annotated[Path | None, typer.Option(help="routing.yaml (for --send)")] = None,
) -> None:
    """Write the digest into DATA_DIR/digests/ (the review UI lists it for officials).
    Schedule it with cron or a Kubernetes CronJob: `canhbao digest --period day --send`."""
    from alerting.delivery import load_routing
    from alerting.digests import (
        Period,
        digest_from_store,
        period_bounds,
        render_html,
        render_pdf,
        send_digest,
    )
    from alerting.views import LOCAL_TZ
    from canhbao.wiring import open_claim_library, open_store
    from schemas import AuditAction

    settings = load_settings()
    chosen = Period(period)
    today = datetime.now(LOCAL_TZ).date()
    default = today - timedelta(days=1 if chosen is Period.DAY else 7)
    try:
        target = date.fromisoformat(day) if day else default
    except ValueError:
        raise typer.BadParameter("YYYY-MM-DD", param_hint="--date") from None
    start, end = period_bounds(chosen, target)
    name = f"{chosen.value}-{start.date().isoformat()}"
    out_dir = settings.digests_dir
    try:
        store = open_store(settings)
        result = digest_from_store(store, chosen, start, end, open_claim_library(settings))
        html = render_html(result)
        out_dir.mkdir(parents=True, exist_ok=True)
        html_path = out_dir / f"{name}.html"
        html_path.write_text(html, encoding="utf-8")
        typer.echo(str(html_path))
        pdf_path = render_pdf(html, out_dir / f"{name}.pdf") if pdf else None
        if pdf_path is not None:
            typer.echo(str(pdf_path))
        if send:
            path = routing or settings.routing_file or Path(str(files("alerting") / "routing.yaml"))
            config = load_routing(path)
            if config.digests is None:
                raise CanhbaoError(f"{path} has no `digests:` section (recipients, SMTP)")
            subject = f"[Cảnh báo] Bản tin {start.date().strftime('%d/%m/%Y')}"
            send_digest(config.digests, subject, html, pdf_path)
            store.record_audit(
                "system:digest",
                AuditAction.DIGEST_SENT,
                f"digest:{name}",
                None,
                {"to": list(config.digests.to), "confirmed": result.confirmed},
            )
            typer.echo(f"sent to {', '.join(config.digests.to)}")
        store.close()
    except CanhbaoError as exc:
        raise fail(exc) from exc
