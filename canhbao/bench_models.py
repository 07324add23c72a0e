"""`canhbao bench classifier` for the hybrid model, and the plain scikit-learn n-gram pipeline
that the baseline is measured against in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from canhbao.settings import Settings

__all__ = ["bench_hybrid", "benchmark_texts", "plain_ngram_pipeline"]


def benchmark_texts(datasets_dir: Path, count: int) -> tuple[list[str], np.ndarray, str]:
    """ViHSD dev texts and labels (the issue's stated mix), repeated to `count`; where the
    datasets are absent, the synthetic posts' texts with random labels. Returns the mix's name."""
    path = datasets_dir / "vihsd" / "dev.csv"
    if path.is_file():
        from classifiers.datasets import read_dataset

        data = read_dataset("vihsd", path)
        texts, labels, mix = list(data.texts), np.asarray(data.y), "vihsd-dev"
    else:
        import json

        from canhbao.synthetic import synthetic_posts

        texts = [json.loads(line)["text"] for line in synthetic_posts(2_000)]
        labels, mix = np.random.default_rng(0).integers(0, 3, len(texts)), "synthetic"
    reps = -(-count // len(texts))
    return (texts * reps)[:count], np.tile(labels, reps)[:count], mix


def plain_ngram_pipeline(texts: Sequence[str], labels: np.ndarray) -> Callable[[list[str]], None]:
    """The 20-line reference: TF-IDF word 1–2 + char_wb 2–5 grams, five logistic-regression
    heads (one three-class, four binary), `predict_proba` on each; returns its predict."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_union

    union = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )
    x = union.fit_transform(texts)
    targets = [labels, labels == 1, labels == 2, labels > 0, np.arange(len(labels)) % 2 == 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        heads = [LogisticRegression(max_iter=200).fit(x, t.astype(int)) for t in targets]

    def predict(batch: list[str]) -> None:
        features = union.transform(batch)
        for head in heads:
            head.predict_proba(features)

    return predict


def bench_hybrid(
    settings: Settings, posts: int, batch_size: int, threads: int | None, passes: int = 3
) -> dict[str, float]:
    """The hybrid model over the synthetic mix (posts, articles with headlines, reviews,
    comments), embedding included (no pipeline embeddings given), median of `passes`; then its
    encoder alone on the same passages, as a fraction of this machine's int8 GEMM peak."""
    import json

    from canhbao.bench import _classifier_inputs, _rates, rss_mb
    from canhbao.bench_transformer import flops_per_window, matmul_peak_flops
    from canhbao.synthetic import synthetic_posts
    from classifiers.embedding import post_passage
    from classifiers.hybrid import HybridModel

    model = HybridModel.load(settings.hybrid_dir, settings.encoder_backend, threads)
    inputs = _classifier_inputs(list(synthetic_posts(posts)))
    rates, latencies = _rates(model, inputs, batch_size, min(200, posts), passes)
    mixing = [name for name, head in model.heads.items() if head.mixer is not None]
    print(
        f"model {model.name} {model.version} (mixing: {', '.join(mixing) or 'none'}; encoder"
        f" {model.encoder.backend}, {model.encoder.max_tokens} tokens): {posts} posts, batches"
        f" of {batch_size}: {', '.join(f'{r:.0f}' for r in rates)} posts/s; single posts p95"
        f" {np.percentile(latencies, 95):.1f} ms"
    )
    passages = [post_passage(item.title, item.text) for item in inputs]
    lengths = [len(ids) for ids in model.encoder.token_ids(passages)]
    started = time.perf_counter()
    model.encoder.embed(passages)
    embed_s = time.perf_counter() - started
    folder = (settings.hybrid_dir / model.card["encoder"]).resolve()
    config = SimpleNamespace(**json.loads((folder / "config.json").read_text(encoding="utf-8")))
    # useful work: real tokens, no padding (as `bench classifier --model transformer` counts it)
    achieved = sum(flops_per_window(n, config) for n in lengths) / embed_s
    rss = rss_mb()  # before the peak measurement, whose matrices (and torch) are not the model's
    peak = matmul_peak_flops(int8=True)
    tokens = sum(lengths)
    print(
        f"encoder alone: {len(passages) / embed_s:.0f} posts/s, {tokens / len(passages):.0f}"
        f" tokens a post, useful {achieved / 1e9:.0f} GOP/s = {achieved / peak:.1%} of this"
        f" machine's measured int8 matmul peak ({peak / 1e9:.0f} GOP/s)"
    )
    return {
        "posts": float(posts),
        "posts_per_s": round(float(np.median(rates)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "encoder_posts_per_s": round(len(passages) / embed_s, 1),
        "tokens_per_post": round(tokens / len(passages), 1),
        "encoder_gops": round(achieved / 1e9, 1),
        "peak_gops": round(peak / 1e9, 1),
        "peak_fraction": round(achieved / peak, 3),
        "rss_mb": round(rss, 1),
    }
