"""`SentenceEncoder` on a tiny encoder the tests build: every backend gives the same rows,
batching and order do not change them, and any text has an embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.encoder.runtime import SentenceEncoder
from classifiers.exceptions import ModelNotFoundError
from tests.conftest import ODD_TEXTS

TEXTS = ["xin chào bạn", "hôm nay trời đẹp", "chào", "xin chào bạn, hôm nay trời đẹp. " * 5, ""]


@pytest.fixture(scope="module")
def tiny_encoder(tiny_encoder_dir: Path) -> Path:
    return tiny_encoder_dir


def test_onnx_and_from_pretrained_give_the_same_embeddings(tiny_encoder: Path) -> None:
    pytest.importorskip("torch")
    fp32 = SentenceEncoder.load(tiny_encoder, "onnx").embed(TEXTS)
    torch_rows = SentenceEncoder.load(str(tiny_encoder), "torch").embed(TEXTS)
    np.testing.assert_allclose(fp32, torch_rows, atol=1e-5)
    int8 = SentenceEncoder.load(tiny_encoder, "onnx-int8").embed(TEXTS)
    assert ((int8 * fp32).sum(axis=1) > 0.95).all()
    np.testing.assert_allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-5)


def test_batches_and_order_do_not_change_a_row(tiny_encoder: Path) -> None:
    encoder = SentenceEncoder.load(tiny_encoder, "onnx", batch_tokens=8)  # many small batches
    together = encoder.embed(TEXTS)
    alone = np.vstack([encoder.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    backwards = encoder.embed(TEXTS[::-1])
    np.testing.assert_allclose(backwards[::-1], together, atol=1e-5)


def test_texts_are_cut_to_the_token_budget_and_prefixed(tiny_encoder: Path) -> None:
    encoder = SentenceEncoder.load(tiny_encoder, "onnx", max_tokens=4)
    [long] = encoder.token_ids(["xin chào bạn " * 50])
    [query] = encoder.token_ids(["xin chào bạn " * 50], kind="query")
    prefix = len(encoder.token_ids(["xin"])[0]) - 3  # "xin" is one piece, "▁xin"
    assert len(long) == 2 + prefix + 4  # <s>, prefix, four content tokens, </s>
    assert long != query  # the prefix differs
    assert encoder.embed([]).shape == (0, encoder.dim)


@pytest.mark.parametrize(("text", "_outcome"), ODD_TEXTS)
def test_any_text_has_a_finite_unit_embedding(
    tiny_encoder: Path, text: str, _outcome: object
) -> None:
    [row] = SentenceEncoder.load(tiny_encoder, "onnx-int8").embed([text])
    assert np.isfinite(row).all()
    assert abs(float(np.linalg.norm(row)) - 1.0) < 1e-4


def test_a_missing_encoder_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="canhbao models build-encoder"):
        SentenceEncoder.load(tmp_path, "onnx-int8")
