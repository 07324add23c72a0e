"""`canhbao collect`, `canhbao import`, `canhbao intake`: posts in, to the embedded pipeline or
to the raw-posts topic on Kafka (`--to kafka`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from canhbao._cli_common import (
    EXIT_REJECTED,
    every,
    fail,
    load_settings,
    progress_line,
    require_extra,
)
from canhbao.settings import Settings
from schemas.exceptions import CanhbaoError

if TYPE_CHECKING:
    from ingest.delivery import PostSink
    from ingest.runtime import CollectorRuntime
    from ingest.scheduler import SourceReport

__all__ = ["collect", "import_posts", "intake"]


class Destination(StrEnum):
    EMBEDDED = "embedded"
    KAFKA = "kafka"


_TO = typer.Option("--to", help="embedded: run the pipeline here; kafka: the raw-posts topic")


def _runtime(
    settings: Settings, sources_file: Path | None, extract_workers: int | None
) -> CollectorRuntime:
    from ingest import starter_sources_path
    from ingest.checkpoints import CheckpointStore
    from ingest.runtime import CollectorRuntime
    from ingest.scheduler import CollectorDeadLetters
    from ingest.sources import load_sources

    path = sources_file or settings.sources_file or starter_sources_path()
    return CollectorRuntime(
        registry=load_sources(path),
        checkpoints=CheckpointStore(settings.collector_db_path),
        dead_letters=CollectorDeadLetters(settings.collector_dead_letters_path),
        # Extraction is CPU-bound Python: processes, not threads, use the other cores
        # (`canhbao bench collect`: ~310 articles/s with 2 processes, ~130 in threads).
        extract_workers=(os.cpu_count() or 1) if extract_workers is None else extract_workers,
    )


def collect(
    sources: Annotated[
        Path | None, typer.Option(help="sources.yaml; default: bundled starter")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="each source once, then exit")] = False,
    source: Annotated[
        list[str] | None, typer.Option(help="only these sources (repeatable)")
    ] = None,
    to: Annotated[Destination, _TO] = Destination.EMBEDDED,
    extract_workers: Annotated[
        int | None,
        typer.Option(min=0, help="processes for article extraction; 0: threads; default: 1/core"),
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics here")] = None,
    metrics_host: str = "127.0.0.1",
    as_json: Annotated[bool, typer.Option("--json", help="per-source report as JSON")] = False,
) -> None:
    """Collect public posts from the sources in sources.yaml (feeds, sitemaps, official APIs).

    Exit status: 0 every source collected; 4 some sources failed (see the report; their
    checkpoints did not move past what was not delivered); 1 nothing could start."""
    settings = load_settings()
    try:
        runtime = _runtime(settings, sources, extract_workers)
        chosen = [runtime.registry.named(n) for n in source] if source else None
    except CanhbaoError as exc:
        raise fail(exc) from exc
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host, registry=runtime.metrics.registry)
    stop = threading.Event()
    reports: list[SourceReport] = []

    def feed(sink: PostSink) -> None:
        async def main() -> None:
            halt = asyncio.Event()
            loop = asyncio.get_running_loop()

            def relay() -> None:  # SIGINT/SIGTERM arrive on the main thread: pass them on
                stop.wait()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(halt.set)

            if not once:
                threading.Thread(target=relay, daemon=True).start()
            reports.extend(await runtime.run(sink, chosen, once=once, stop=halt))

        asyncio.run(main())

    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        if to is Destination.KAFKA:
            require_extra("kafka", "stream")
            from canhbao.feeding import kafka_producer
            from canhbao.wiring import topology
            from ingest.delivery import BusSink

            producer = kafka_producer(settings)
            try:
                feed(BusSink(producer, topology(settings).raw))
            finally:
                producer.close()
            summary = None
        else:
            from canhbao.feeding import run_embedded_fed

            summary = run_embedded_fed(settings, feed, every(5.0, progress_line)).summary
    except CanhbaoError as exc:
        raise fail(exc) from exc
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        runtime.checkpoints.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "sources": [r.as_dict() for r in reports],
                    "pipeline": summary.as_dict() if summary else None,
                },
                ensure_ascii=False,
            )
        )
    else:
        for r in reports:
            state = "ok" if r.ok else "FAILED: " + "; ".join(f"{k}: {m}" for k, m in r.failures[:2])
            skipped = "".join(f", skipped {n} ({why})" for why, n in sorted(r.skipped.items()))
            typer.echo(
                f"{r.source}: fetched {r.fetched}, new {r.new}, duplicates {r.duplicates},"
                f" rejected {r.rejected}, deferred {r.deferred}{skipped} — {state}"
            )
        if summary is not None:
            typer.echo(summary.render())
    if any(not r.ok for r in reports):
        raise typer.Exit(4)


def import_posts(
    file: Annotated[Path, typer.Argument(help="JSON Lines or CSV (by extension)")],
    to: Annotated[Destination, _TO] = Destination.EMBEDDED,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Import posts from a file. Bad rows go to the dead letters with their line and reason.

    Exit status as for `canhbao run` (3: finished, some rows dead-lettered)."""
    from ingest import read_posts_file

    settings = load_settings()
    try:
        if to is Destination.KAFKA:
            require_extra("kafka", "stream")
            from canhbao.feeding import produce_records

            produced = produce_records(settings, read_posts_file(file, limit))
            typer.echo(f"{produced.sent} record(s) from {file} acknowledged on Kafka")
            if produced.dead_lettered:
                typer.echo(
                    f"{produced.dead_lettered} record(s) too large for a Kafka message:"
                    " on the dead-letter topic"
                )
                raise typer.Exit(EXIT_REJECTED)
            return
        from canhbao.feeding import run_embedded

        summary = run_embedded(
            settings, read_posts_file(file, limit), every(2.0, progress_line)
        ).summary
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(summary.render())
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)


def intake(
    host: str = "127.0.0.1",
    port: int = 8780,
    to: Annotated[Destination, _TO] = Destination.EMBEDDED,
) -> None:
    """Serve the signed intake endpoint (POST /intake/posts) for partner feeds."""
    import uvicorn

    from canhbao.settings import load_intake_secrets
    from ingest.intake import create_intake_app
    from stream_jobs.parse import ParseLimits

    settings = load_settings()
    try:
        partners = load_intake_secrets(settings)
        if not partners:
            raise CanhbaoError("no intake partners: set CANHBAO_INTAKE_SECRETS(_FILE)")
    except CanhbaoError as exc:
        raise fail(exc) from exc
    limits = ParseLimits(max_text_bytes=settings.max_text_bytes)

    def serve(sink: PostSink) -> None:
        app = create_intake_app(partners, sink, limits=limits)
        typer.echo(f"Intake on http://{host}:{port}/intake/posts", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")

    try:
        if to is Destination.KAFKA:
            require_extra("kafka", "stream")
            from canhbao.feeding import kafka_producer
            from canhbao.wiring import topology
            from ingest.delivery import BusSink

            serve(BusSink(kafka_producer(settings), topology(settings).raw))
        else:
            from canhbao.feeding import run_embedded_fed

            run_embedded_fed(settings, serve)
    except CanhbaoError as exc:
        raise fail(exc) from exc
