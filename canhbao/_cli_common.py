"""Helpers shared by the CLI's command modules."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import typer

from canhbao.settings import Settings
from stream_jobs.summary import RunSummary

__all__ = ["EXIT_REJECTED", "every", "fail", "load_settings", "require_extra"]

EXIT_REJECTED = 3  # the run completed, and some records went to the dead letters


def load_settings() -> Settings:
    """The settings, or exit 2 with one line per bad variable (not a pydantic traceback);
    a `CANHBAO_*` variable that looks like a misspelt setting is warned about."""
    from pydantic import ValidationError

    from canhbao.logs import configure_logging
    from canhbao.settings import misspelt_variables, settings_errors

    for line in misspelt_variables(os.environ):
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW, err=True)
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in settings_errors(exc):
            typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def every(seconds: float, show: Callable[[RunSummary], str]) -> Callable[[RunSummary], None]:
    """A progress callback that prints to stderr at most every `seconds` (long jobs only)."""
    last = time.monotonic()

    def progress(summary: RunSummary) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= seconds:
            last = now
            typer.echo(show(summary), err=True)

    return progress


def require_extra(module: str, extra: str) -> None:
    """Optional features live in extras; say which one, instead of a bare ImportError."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        typer.secho(
            f"error: this command needs the `{extra}` extra: pip install 'canhbao[{extra}]'",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)


def fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def progress_line(s: RunSummary) -> str:
    return (
        f"… {s.posts_in} records: {s.processed} processed, "
        f"{sum(s.duplicates.values())} duplicates, {s.rejected} rejected, "
        f"{s.alerts_queued} alerts"
    )
