"""`canhbao bench claims`: claim matching against a large library — how long the library takes
to load, what matching adds per post in batches and one post at a time, and memory — beside a
plain reference in the same run (scikit-learn TF-IDF cosine of the whole post against every
claim, top 10: no folding, no sentences, no vectors, no fusion).

The library is real Vietnamese sentences (the datasets' texts, split into sentences, and the
vnPara claims), as many as asked; their vectors are random unit vectors — vector search costs
the same whatever the vectors hold, and encoding 100,000 claims would take ~20 minutes here
(in production each claim's vector is computed once and stored with it). Posts are the
synthetic mix of `bench pipeline`, with random embeddings for the same reason (in the pipeline
the embed stage has already encoded them)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from alerting.claims.fusion import Fusion
from alerting.claims.index import ClaimIndex, IndexedText
from alerting.claims.lexical import LexicalModel
from alerting.claims.matcher import ClaimMatcher, MatchPolicy, read_matcher_card, sentences
from canhbao.bench import rss_mb
from canhbao.synthetic import synthetic_posts
from classifiers.embedding import post_passage
from classifiers.text import normalize_text

__all__ = ["bench_claims", "library_sentences"]

_SOURCES = ("reintel/train.csv", "vihsd/train.csv", "vlsp2019_hsd/train.csv",
            "vispamreviews/train.csv", "victsd/ViCTSD_train.csv")  # fmt: skip
_DIM = 384


def library_sentences(datasets: Path, count: int) -> list[str]:
    """Up to `count` distinct Vietnamese sentences of 6–60 words from the datasets."""
    import csv

    seen: dict[str, None] = {}
    vnpara = datasets / "claims" / "claim_retrieval_vnpara_claims.jsonl"
    if vnpara.is_file():
        for line in vnpara.read_text(encoding="utf-8").splitlines():
            seen.setdefault(normalize_text(json.loads(line)["text"]), None)
    for rel in _SOURCES:
        path = datasets / rel
        if not path.is_file() or len(seen) >= count:
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    for sentence in sentences(cell):
                        words = len(sentence.split())
                        if 6 <= words <= 60:
                            seen.setdefault(normalize_text(sentence), None)
                if len(seen) >= count:
                    break
    return list(seen)[:count]


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, _DIM)).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def bench_claims(
    datasets: Path, matcher_dir: Path, claims: int, posts: int, batch: int
) -> dict[str, Any]:
    from datetime import UTC, datetime

    from sklearn.feature_extraction.text import TfidfVectorizer

    sentences = library_sentences(datasets, claims)
    if len(sentences) < claims:
        print(f"only {len(sentences)} distinct sentences in {datasets}: the library is that size")
    rng = np.random.default_rng(5)
    try:
        card = read_matcher_card(matcher_dir)
        fusion, policy = Fusion.from_json(card["fusion"]), MatchPolicy(**card["policy"])
        lexical = LexicalModel.load(matcher_dir)
    except Exception:  # no fitted matcher: a fixed lexical+vector fusion, timing is the same
        fusion, policy = Fusion((6.0, 6.0, 4.0, 4.0), -8.0, True), MatchPolicy(0.5, 0.95)
        lexical = LexicalModel.fit(sentences[:20_000])
    texts = [IndexedText(f"clm-{i:016x}", s) for i, s in enumerate(sentences)]
    vectors = _unit(rng, len(texts)) if fusion.vectors else None
    started = time.perf_counter()
    index = ClaimIndex(texts, vectors, lexical)
    matcher = ClaimMatcher(index, fusion, policy)
    load_s = time.perf_counter() - started

    passages = []
    for raw in synthetic_posts(posts, seed=11):
        post = json.loads(raw)
        passages.append(post_passage(post.get("title"), normalize_text(post["text"])))
    post_vectors = _unit(rng, len(passages)) if fusion.vectors else None
    now = datetime.now(UTC)
    matcher.match_posts(
        passages[:batch], None if post_vectors is None else post_vectors[:batch], now
    )
    started = time.perf_counter()
    matched = 0
    for i in range(0, len(passages), batch):
        got = matcher.match_posts(
            passages[i : i + batch],
            None if post_vectors is None else post_vectors[i : i + batch],
            now,
        )
        matched += sum(bool(m) for m in got)
    batch_ms = (time.perf_counter() - started) * 1000 / len(passages)
    single = []
    for i in range(min(200, len(passages))):
        t0 = time.perf_counter()
        matcher.match_posts(
            passages[i : i + 1], None if post_vectors is None else post_vectors[i : i + 1], now
        )
        single.append((time.perf_counter() - t0) * 1000)

    # the plain reference, same library and posts
    started = time.perf_counter()
    plain = TfidfVectorizer(sublinear_tf=True).fit(sentences)
    library = plain.transform(sentences)
    plain_load_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, len(passages), batch):
        scores = (plain.transform(passages[i : i + batch]) @ library.T).toarray()
        np.argpartition(-scores, 9, axis=1)[:, :10]
    plain_ms = (time.perf_counter() - started) * 1000 / len(passages)
    result = {
        "claims": len(texts),
        "posts": len(passages),
        "load_s": round(load_s, 2),
        "batch_ms_per_post": round(batch_ms, 2),
        "posts_per_s": round(1000 / batch_ms, 1),
        "p95_ms": round(float(np.percentile(single, 95)), 1),
        "matched_posts": matched,
        "plain_load_s": round(plain_load_s, 2),
        "plain_batch_ms_per_post": round(plain_ms, 2),
        "ratio_to_plain": round(plain_ms / batch_ms, 2),
        "rss_mb": round(rss_mb(), 0),
    }
    print(
        f"claims: {len(texts)} in the library (loaded in {load_s:.1f} s), {len(passages)} posts:"
        f" {batch_ms:.2f} ms a post in batches of {batch}, one post at a time p95"
        f" {result['p95_ms']} ms; plain TF-IDF cosine of whole posts {plain_ms:.2f} ms a post"
        f" (ours/plain speed {result['ratio_to_plain']}: ours matches each sentence, folded,"
        " and searches vectors too)"
    )
    return result
