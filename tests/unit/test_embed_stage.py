"""The embed stage of `process_batch`: each new post encoded once, its vector carried to the
classifier and to the store; a record the encoder cannot take costs that record alone."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from alerting.store import SQLiteStore
from classifiers import ClassifierInput
from classifiers.embedding import PostEmbedding, post_passage
from classifiers.encoder.runtime import SentenceEncoder
from schemas import Classification, RejectReason
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import write_until_stored
from tests.conftest import ODD_TEXTS, line, raw_post


class Recording:
    """Wraps a real encoder: counts calls and can refuse texts holding a marker."""

    def __init__(self, encoder: SentenceEncoder, refuse: str | None = None) -> None:
        self.encoder = encoder
        self.refuse = refuse
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return self.encoder.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.refuse and any(self.refuse in t for t in texts):
            raise RuntimeError("encoder refused")
        return self.encoder.embed(texts)

    def embed_posts(self, passages: Sequence[str]) -> list[PostEmbedding]:
        return [PostEmbedding(self.name, v) for v in self.embed(passages)]


class Seeing:
    """Wraps the real classifier and keeps what it was given."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seen: list[ClassifierInput] = []
        self.name, self.version = "seeing", "1"

    def predict(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        self.seen.extend(batch)
        return self.inner.predict(batch)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def encoder(tiny_encoder_dir: Path) -> SentenceEncoder:
    return SentenceEncoder.load(tiny_encoder_dir)


def _records(*datas: bytes) -> list[InboundRecord]:
    return [InboundRecord(f"test:{i}", d) for i, d in enumerate(datas, start=1)]


def test_each_new_post_is_embedded_once_and_reaches_the_classifier(
    ctx: PipelineContext, encoder: SentenceEncoder
) -> None:
    embedder, classifier = Recording(encoder), Seeing(ctx.classifier)
    ctx = dataclasses.replace(ctx, embedder=embedder, classifier=classifier)
    batch = _records(
        line(external_id="1", text="xin chào bạn, hôm nay trời đẹp", title="Chào buổi sáng"),
        line(external_id="2", text="hôm nay trời đẹp quá đi chơi thôi"),
        line(external_id="3", text="XIN CHÀO BẠN, HÔM NAY TRỜI ĐẸP", title="Chào buổi sáng"),
        b"{broken",
    )
    result = process_batch(batch, ctx)
    assert len(result.posts) == 2
    assert len(result.duplicates) == 1
    assert len(embedder.calls) == 1  # one pass for the batch, duplicates left out
    assert embedder.calls[0] == [post_passage(p.title, p.text) for p in result.posts]
    assert set(result.embeddings) == {p.post_id for p in result.posts}
    expected = encoder.embed(embedder.calls[0])
    for post, row in zip(result.posts, expected, strict=True):
        embedding = result.embeddings[post.post_id]
        assert embedding.model == encoder.name
        np.testing.assert_allclose(embedding.vector, row, atol=1e-6)
    given = {item.post_id: item.embedding for item in classifier.seen}
    assert all(given[p] is result.embeddings[p] for p in result.embeddings)


def test_without_an_embedder_nothing_is_embedded(ctx: PipelineContext) -> None:
    result = process_batch(_records(line(text="hôm nay trời đẹp quá")), ctx)
    assert result.embeddings == {}
    assert len(result.posts) == 1


def test_a_record_the_encoder_cannot_take_costs_only_that_record(
    ctx: PipelineContext, encoder: SentenceEncoder
) -> None:
    ctx = dataclasses.replace(ctx, embedder=Recording(encoder, refuse="BOOM"))
    batch = _records(
        line(external_id="1", text="hôm nay trời đẹp quá"),
        line(external_id="2", text="BOOM hôm nay"),
        line(external_id="3", text="xin chào bạn nhé"),
    )
    result = process_batch(batch, ctx)
    assert result.accounted == 3
    assert [p.raw.external_id for p in result.posts] == ["1", "3"]
    (letter,) = result.dead_letters
    assert (letter.stage, letter.reason_code) == ("embed", RejectReason.PROCESSING_ERROR)
    assert letter.origin == "test:2"
    assert set(result.embeddings) == {p.post_id for p in result.posts}
    # the refused post was not indexed as seen: its replay from the dead letters is new
    again = process_batch(_records(line(external_id="2", text="BOOM hôm nay")),
                          dataclasses.replace(ctx, embedder=encoder))  # fmt: skip
    assert len(again.posts) == 1


def test_odd_texts_get_a_finite_unit_embedding(
    ctx: PipelineContext, encoder: SentenceEncoder
) -> None:
    ctx = dataclasses.replace(ctx, embedder=encoder)
    # ASCII-escaped JSON: one odd text holds a lone surrogate, which UTF-8 cannot carry
    batch = _records(*(json.dumps(raw_post(external_id=str(i), text=t or "x")).encode()
                       for i, (t, _) in enumerate(ODD_TEXTS)))  # fmt: skip
    result = process_batch(batch, ctx)
    assert result.accounted == len(batch)
    for embedding in result.embeddings.values():
        assert np.isfinite(embedding.vector).all()
        assert abs(float(np.linalg.norm(embedding.vector)) - 1.0) < 1e-3


def test_embeddings_are_stored_with_their_encoder(
    ctx: PipelineContext, encoder: SentenceEncoder, store: SQLiteStore
) -> None:
    ctx = dataclasses.replace(ctx, embedder=encoder)
    result = process_batch(_records(line(text="hôm nay trời đẹp quá đi chơi thôi")), ctx)
    write_until_stored(store, result)
    (post,) = result.posts
    stored = store.embeddings([post.post_id, "0" * 32])
    assert list(stored) == [post.post_id]
    assert stored[post.post_id].model == encoder.name
    np.testing.assert_allclose(stored[post.post_id].vector,
                               result.embeddings[post.post_id].vector, atol=1e-3)  # fmt: skip


def test_float16_bytes_round_trip_keeps_cosines() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    back = np.vstack(
        [PostEmbedding.from_bytes("m", PostEmbedding("m", v).to_bytes()).vector for v in vectors]
    )
    assert len(PostEmbedding("m", vectors[0]).to_bytes()) == 768
    np.testing.assert_allclose(back @ back.T, vectors @ vectors.T, atol=1e-3)
