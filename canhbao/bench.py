"""Benchmarks. Each prints a human summary, then a final `key=value …` line for tooling."""

from __future__ import annotations

import resource
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from alerting.store import SQLiteStore
from canhbao.settings import Settings
from canhbao.synthetic import synthetic_posts
from canhbao.wiring import build_context, load_classifier
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.pipeline import InboundRecord

__all__ = ["bench_pipeline", "rss_mb"]


def rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak resident set of this process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_pipeline(settings: Settings, posts: int, batch_size: int) -> dict[str, float]:
    """The embedded pipeline over synthetic posts, and — in the same run, on the same posts and
    batches — the classifier alone, so that their ratio is the machine's speed cancelled."""
    classifier = load_classifier(settings)
    records = [
        InboundRecord(f"synthetic:{i}", data)
        for i, data in enumerate(synthetic_posts(posts), start=1)
    ]
    with tempfile.TemporaryDirectory(prefix="canhbao-bench-") as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db", audit_key=secrets.token_bytes(32))
        # A queue of two batches: the latency measured is processing, not a deep backlog.
        runner = EmbeddedRunner(
            build_context(settings, classifier),
            store,
            batch_size=batch_size,
            max_pending=2 * batch_size,
        )
        started = time.perf_counter()
        summary = runner.run(records)
        elapsed = time.perf_counter() - started
        store.close()
    print(summary.render())
    reference = _classifier_alone(classifier, records, batch_size)
    rate = posts / elapsed
    print(
        f"pipeline {rate:.0f} posts/s, classifier alone {reference:.0f} posts/s on the same"
        f" posts (ratio {rate / reference:.2f})"
    )
    latencies = np.asarray(runner.latencies_ms)
    return {
        "posts": float(posts),
        "posts_per_s": round(rate, 1),
        "classifier_posts_per_s": round(reference, 1),
        "vs_classifier": round(rate / reference, 3),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "rss_mb": round(rss_mb(), 1),
    }


def _classifier_inputs(lines: list[bytes]) -> list[Any]:
    """Classifier inputs from synthetic JSON lines, texts normalised as the pipeline does."""
    import json

    from classifiers import ClassifierInput
    from classifiers.text import normalize_text
    from schemas import PostKind

    inputs = []
    for i, data in enumerate(lines):
        record = json.loads(data)
        inputs.append(
            ClassifierInput(
                post_id=f"{i:032x}",
                text=normalize_text(record["text"]),
                title=record.get("title"),
                kind=PostKind(record["kind"]),
            )
        )
    return inputs


def _classifier_alone(classifier: Any, records: list[InboundRecord], batch_size: int) -> float:
    """Posts/s of `classifier.predict` alone over the records' normalised texts, in batches."""
    inputs = _classifier_inputs([record.data for record in records])
    started = time.perf_counter()
    for start in range(0, len(inputs), batch_size):
        classifier.predict(inputs[start : start + batch_size])
    return len(inputs) / (time.perf_counter() - started)


_WORKER_MODEL: list[Any] = []


def _worker_start(model_dir: str) -> None:
    from classifiers.baseline import BaselineModel

    _WORKER_MODEL.append(BaselineModel.load(Path(model_dir)))


def _worker_predict(batch: list[Any]) -> int:
    return len(_WORKER_MODEL[0].predict(batch))


def _parallel_rate(model_dir: Path, inputs: list[Any], batch_size: int, workers: int) -> float:
    """Posts/s with `workers` processes, each with its own copy of the model (as stream workers
    run: one per core), over the same batches."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    batches = [inputs[s : s + batch_size] for s in range(0, len(inputs), batch_size)]
    context = get_context("forkserver")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(str(model_dir),)
    ) as pool:
        list(pool.map(_worker_predict, batches[:workers]))  # load and warm every worker
        started = time.perf_counter()
        done = sum(pool.map(_worker_predict, batches))
        return done / (time.perf_counter() - started)


def bench_classifier(
    settings: Settings,
    posts: int,
    batch_size: int,
    singles: int = 500,
    passes: int = 3,
    workers: int = 1,
) -> dict[str, float]:
    """The baseline alone: every head over synthetic posts in batches (median of `passes`),
    then one post at a time (p95 latency of `singles` calls); with `workers` > 1, the batch
    throughput of that many processes too; then, side by side on the same texts, against a
    plain scikit-learn n-gram pipeline (`bench_models.plain_ngram_pipeline`)."""
    model = load_classifier(settings.model_copy(update={"classifier": "baseline"}))
    inputs = _classifier_inputs(list(synthetic_posts(posts)))
    rates, latencies = _rates(model, inputs, batch_size, singles, passes)
    print(
        f"model {model.name} {model.version}: {posts} posts, batches of {batch_size},"
        f" {passes} passes: {', '.join(f'{r:.0f}' for r in rates)} posts/s"
    )
    print(
        f"single posts: p50 {np.percentile(latencies, 50):.2f} ms,"
        f" p95 {np.percentile(latencies, 95):.2f} ms"
    )
    result: dict[str, float] = {"one_process_posts_per_s": round(float(np.median(rates)), 1)}
    parallel = rates
    if workers > 1:
        parallel = [
            _parallel_rate(settings.baseline_dir, inputs, batch_size, workers)
            for _ in range(passes)
        ]
        print(f"{workers} processes: {', '.join(f'{r:.0f}' for r in parallel)} posts/s")
        result["workers"] = float(workers)
    ours, scoring, plain = _against_plain_sklearn(model, settings, posts, batch_size, passes)
    return result | {
        "posts_per_s": round(float(np.median(parallel)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "ngram_posts_per_s": round(ours, 1),
        "ngram_scoring_posts_per_s": round(scoring, 1),
        "plain_sklearn_posts_per_s": round(plain, 1),
        "vs_plain_sklearn": round(ours / plain, 3),
        "scoring_vs_plain_sklearn": round(scoring / plain, 3),
        "rss_mb": round(rss_mb(), 1),
    }


def _rates(
    model: Any, inputs: list[Any], batch_size: int, singles: int, passes: int
) -> tuple[list[float], list[float]]:
    """Batch throughputs (one per pass) and single-post latencies in ms."""
    model.predict(inputs[:batch_size])  # warm-up: first-call allocations are not the rate
    rates = []
    for _ in range(passes):
        started = time.perf_counter()
        for start in range(0, len(inputs), batch_size):
            model.predict(inputs[start : start + batch_size])
        rates.append(len(inputs) / (time.perf_counter() - started))
    latencies = []
    for item in inputs[:singles]:
        t0 = time.perf_counter()
        model.predict([item])
        latencies.append((time.perf_counter() - t0) * 1000)
    return rates, latencies


def _against_plain_sklearn(
    model: Any, settings: Settings, posts: int, batch_size: int, passes: int
) -> tuple[float, float, float]:
    """Median posts/s of `model.predict`, of its scoring alone (model text and every head's
    probabilities: what the plain pipeline's `predict_proba` computes) and of the plain
    pipeline, passes interleaved on the same texts and batches, so that the machine's drift
    hits all alike."""
    from canhbao.bench_models import benchmark_texts, plain_ngram_pipeline
    from classifiers import ClassifierInput
    from classifiers.text import detect_language, normalize_text, text_for_model

    texts, labels, mix = benchmark_texts(settings.datasets_dir, min(posts, 20_000))
    plain = plain_ngram_pipeline(texts, labels)
    # What the classify stage is handed: normalised text, its language already detected.
    normalised = [normalize_text(t) for t in texts]
    inputs = [
        ClassifierInput(f"{i:032x}", text, language=detect_language(text).code)
        for i, text in enumerate(normalised)
    ]
    batches = [slice(s, s + batch_size) for s in range(0, len(texts), batch_size)]

    def predict() -> None:
        for b in batches:
            model.predict(inputs[b])

    def scores() -> None:
        for b in batches:
            model_texts = [text_for_model(item.text) for item in inputs[b]]
            model.head_probabilities(inputs[b], model_texts, list(range(len(model_texts))))

    def reference() -> None:
        for b in batches:
            plain(texts[b])

    rates: dict[str, list[float]] = {"predict": [], "scores": [], "plain": []}
    for _ in range(passes):
        for name, run in (("predict", predict), ("scores", scores), ("plain", reference)):
            started = time.perf_counter()
            run()
            rates[name].append(len(texts) / (time.perf_counter() - started))
    ours, scoring, theirs = (float(np.median(rates[k])) for k in ("predict", "scores", "plain"))
    print(
        f"n-gram path vs plain scikit-learn (TF-IDF word 1-2 + char_wb 2-5, five LR heads,"
        f" predict_proba) on {len(texts)} {mix} texts, batches of {batch_size}, median of"
        f" {passes}: plain {theirs:.0f} posts/s; ours, scoring alone {scoring:.0f} posts/s"
        f" (ratio {scoring / theirs:.2f}); ours, predict (screening, decisions, evidence,"
        f" results) {ours:.0f} posts/s (ratio {ours / theirs:.2f})"
    )
    return ours, scoring, theirs
