"""`canhbao bench classifier --model transformer`: the transformer path on this CPU.

Without `--model-dir` it builds a PhoBERT-base-shaped network with random weights (12 layers,
hidden 768, vocabulary 64,001; same cost as the real one, no download) and a BPE tokenizer
learned from synthetic posts. Inputs are a mix of lengths (comments, posts, articles: see
`LENGTH_MIX`), so throughput includes windows, bucketing and padding, not one lucky shape.
The achieved rate counts the useful work (real tokens, no padding) and is compared with this
machine's matmul peak for the backend's arithmetic (fp32, or int8 for the quantised ones),
measured here in the same process and thread count.
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from canhbao.bench import rss_mb
from canhbao.synthetic import synthetic_posts
from classifiers.base import ClassifierInput
from classifiers.text import normalize_text, text_for_model
from schemas import PostKind

__all__ = ["LENGTH_MIX", "bench_transformer", "flops_per_window", "matmul_peak_flops"]

# (share of posts, words from, words to): what a monitored city feed is mostly made of —
# comments, then page posts, then a few full articles (each several 256-token windows).
LENGTH_MIX: tuple[tuple[float, int, int], ...] = ((0.70, 5, 40), (0.25, 40, 200), (0.05, 300, 900))


def _best_rate(op: Callable[[], object], size: int, repeats: int) -> float:
    op()
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            op()
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - t0))
    return best


def _ort_matmul(int8: bool, size: int) -> Callable[[], object] | None:
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    kinds = (TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32) if int8 else (1, 1, 1)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger" if int8 else "MatMul", ["A", "B"], ["C"])],
        "peak",
        [
            helper.make_tensor_value_info("A", kinds[0], [size, size]),
            helper.make_tensor_value_info("B", kinds[1], [size, size]),
        ],
        [helper.make_tensor_value_info("C", kinds[2], [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    if int8:
        a8 = rng.integers(0, 255, (size, size), dtype=np.uint8)
        b8 = rng.integers(-128, 127, (size, size), dtype=np.int8)
        feed: dict[str, np.ndarray] = {"A": a8, "B": b8}
    else:
        feed = {name: rng.random((size, size), dtype=np.float32) for name in "AB"}
    return lambda: session.run(None, feed)


def matmul_peak_flops(int8: bool = False, size: int = 1024, repeats: int = 20) -> float:
    """This machine's GEMM peak, fp32 or int8: the best of PyTorch's kernel (`matmul`,
    `_int_mm`) and ONNX Runtime's (`MatMul`, `MatMulInteger`), best of three runs each, with
    the current thread count. Libraries differ a lot here (on this AMD EPYC, ONNX Runtime's
    fp32 GEMM is ~2× PyTorch's), so the peak is whichever kernel gets closest to the silicon.
    Without torch (the light install), ONNX Runtime's alone."""
    ops: list[Callable[[], object]] = []
    torch: Any = None
    with contextlib.suppress(ImportError):
        import torch
    if torch is not None and int8:
        a = torch.randint(-128, 127, (size, size), dtype=torch.int8)
        b = torch.randint(-128, 127, (size, size), dtype=torch.int8)
        ops.append(lambda: torch._int_mm(a, b))
    elif torch is not None:
        x, y = torch.randn(size, size), torch.randn(size, size)
        ops.append(lambda: torch.matmul(x, y))
    ort_op = _ort_matmul(int8, size)
    if ort_op is not None:
        ops.append(ort_op)
    return max(_best_rate(op, size, repeats) for op in ops)


def _texts(posts: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = [normalize_text(json.loads(p)["text"]) for p in synthetic_posts(2000, seed=seed)]
    words = [w for t in pool for w in t.split()]
    shares = [m[0] for m in LENGTH_MIX]
    out = []
    for _ in range(posts):
        _, lo, hi = rng.choices(LENGTH_MIX, weights=shares)[0]
        n = rng.randint(lo, hi)
        start = rng.randrange(len(words) - n)
        out.append(" ".join(words[start : start + n]))
    return out


def _build_random_base(directory: Path, texts: list[str]) -> Path:
    from classifiers.transformer.scaffold import (
        PHOBERT_BASE_VOCAB,
        build_random_phobert,
        segmented_words,
    )

    return build_random_phobert(
        directory,
        segmented_words(texts[:400]),
        size="base",
        vocab_size=PHOBERT_BASE_VOCAB,
        merges=2000,
    )


def _prepare_model(directory: Path, build: bool, backend: str, texts: list[str]) -> None:
    from classifiers.transformer.export import export_folder

    if build:
        _build_random_base(directory, texts)
    if backend.startswith("onnx") and not (directory / "model.onnx").is_file():
        print("exporting to ONNX …", flush=True)
        export_folder(directory)


def flops_per_window(length: int, config: Any) -> float:
    """Forward FLOPs of one window: per layer, Q/K/V/O projections 8·L·h², feed-forward
    4·L·h·ff, attention scores and mixing 4·L²·h (a multiply-add counted as 2)."""
    h, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 8 * length * h * h + 4 * length * h * ff + 4 * length * length * h
    return float(layers * per_layer)


def bench_transformer(
    backend: str,
    posts: int = 512,
    batch_size: int = 256,
    singles: int = 40,
    model_dir: Path | None = None,
    threads: int | None = None,
    seed: int = 7,
    passes: int = 3,
) -> dict[str, float]:
    """Median of `passes` batch runs over the same posts, then single-post latency."""
    import torch
    from transformers import AutoConfig

    from classifiers.transformer.model import TransformerClassifier
    from classifiers.transformer.network import ENCODER_DIR

    if threads:
        torch.set_num_threads(threads)
    texts = _texts(posts, seed)
    with tempfile.TemporaryDirectory(prefix="canhbao-transformer-") as tmp:
        directory = model_dir or Path(tmp)
        # Built and exported in a child process: the fp32 network and the exporter's
        # working memory must not count in this process's peak RSS.
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            pool.submit(_prepare_model, directory, model_dir is None, backend, texts).result()
        model = TransformerClassifier.load(directory, backend=backend, threads=threads)
        config = AutoConfig.from_pretrained(str(directory / ENCODER_DIR))
    inputs = [
        ClassifierInput(post_id=f"{i:032x}", text=t, language="vi", kind=PostKind.COMMENT)
        for i, t in enumerate(texts)
    ]
    windows = model.windows([text_for_model(t) for t in texts])
    lengths = [len(w) + 2 for _, w in windows]
    useful = sum(flops_per_window(n, config) for n in lengths)
    model.predict(inputs[:batch_size])  # warm-up
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        for start in range(0, len(inputs), batch_size):
            model.predict(inputs[start : start + batch_size])
        times.append(time.perf_counter() - started)
    elapsed = float(np.median(times))
    latencies = []
    for item in inputs[:singles]:
        t0 = time.perf_counter()
        model.predict([item])
        latencies.append((time.perf_counter() - t0) * 1000)
    int8 = backend.endswith("int8")
    peak_fp32 = matmul_peak_flops()
    peak = matmul_peak_flops(int8=True) if int8 else peak_fp32
    achieved = useful / elapsed
    words = [len(t.split()) for t in texts]
    print(
        f"model {model.name} {model.version} ({config.num_hidden_layers} layers, hidden"
        f" {config.hidden_size}, vocab {config.vocab_size}), backend {backend},"
        f" {torch.get_num_threads()} threads"
    )
    print(
        "length mix: "
        + ", ".join(f"{share:.0%} {lo}-{hi} words" for share, lo, hi in LENGTH_MIX)
        + f"; this run: median {np.median(words):.0f} words, {len(windows)} windows for"
        f" {posts} posts, median {np.median(lengths):.0f} tokens per window,"
        f" {sum(lengths) / posts:.0f} tokens per post"
    )
    print(
        f"batch ({passes} passes, median): {posts / elapsed:.1f} posts/s"
        f" ({', '.join(f'{posts / t:.1f}' for t in times)}), {sum(lengths) / elapsed:.0f} tokens/s;"
        f" useful {achieved / 1e9:.0f} G(FL)OP/s = {achieved / peak:.1%} of this machine's"
        f" measured {'int8' if int8 else 'fp32'} matmul peak ({peak / 1e9:.0f} G(FL)OP/s;"
        f" fp32 peak {peak_fp32 / 1e9:.0f} GFLOP/s)"
    )
    return {
        "posts_per_s": round(posts / elapsed, 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "rss_mb": round(rss_mb(), 1),
        "tokens_per_post": round(sum(lengths) / posts, 1),
        "gops": round(achieved / 1e9, 1),
        "peak_gops": round(peak / 1e9, 1),
        "peak_fraction": round(achieved / peak, 3),
    }
