"""`canhbao deliver`: send analyst-confirmed alerts to their destinations (routing.yaml)."""

from __future__ import annotations

import json
import signal
import threading
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from canhbao._cli_common import fail, load_settings
from schemas.exceptions import CanhbaoError

__all__ = ["deliver"]


def deliver(
    routing: Annotated[Path | None, typer.Option(help="routing.yaml; default: bundled")] = None,
    once: Annotated[bool, typer.Option("--once", help="one round, then exit")] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="seconds between rounds")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics here")] = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Deliver confirmed alerts: plan from the audit log, send, retry, escalate overdue ones.

    Exit status with --once: 0 nothing failed; 5 some deliveries failed for good (see
    `outbox`); 1 could not start."""
    from alerting.delivery import Deliverer, DeliveryMetrics, Outbox, build_channels, load_routing
    from canhbao.feeding import kafka_producer
    from canhbao.wiring import open_store, topology

    settings = load_settings()
    path = routing or settings.routing_file or Path(str(files("alerting") / "routing.yaml"))
    try:
        config = load_routing(path)
        store = open_store(settings)
        outbox = Outbox(settings.outbox_path)
        channels = build_channels(
            config, lambda: kafka_producer(settings), topology(settings).destination
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    deliverer = Deliverer(store, outbox, config, channels, review_base_url=settings.review_base_url)
    metrics = DeliveryMetrics()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host, registry=metrics.registry)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    failed = 0
    try:
        while True:
            report = deliverer.run_once()
            metrics.observe(report, outbox.counts())
            failed += report.failed
            if as_json or once:
                typer.echo(json.dumps(report.__dict__ | {"outbox": outbox.counts()}))
            if once or stop.wait(interval):
                break
    except CanhbaoError as exc:
        raise fail(exc) from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        outbox.close()
        store.close()
    if once and failed:
        raise typer.Exit(5)
