"""The pipeline as plain functions: parse → normalise → language → dedup → embed → classify →
route.

`process_batch` is the single implementation both runners call: the embedded runner with records
from a file through the in-process queue, the stream worker with records from Kafka. It does no
I/O of its own; the runner stores the `BatchResult` and only then commits its input position.

Duplicates are judged against `ctx.dedup`, this process's index. Where several workers share
one store, `ctx.shared_dedup` looks up, once per batch, what the others stored that matches
this batch's misses (same content hash, or a shared MinHash band); the matches join the index
before any record is judged, so a repeat of another worker's post is a repeat here too.

New posts are embedded once (`ctx.embedder`, when set): the vector goes to the classifier with
the post and to the store in `BatchResult.embeddings`; duplicates are not embedded (their first
sighting was).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from classifiers import Classifier, ClassifierInput
from classifiers.embedding import Embedder, PostEmbedding, post_passage
from classifiers.text import detect_language, fold, normalize_text
from schemas import (
    Alert,
    Classification,
    DeadLetter,
    NormalizedPost,
    RawPost,
    RejectReason,
    utc_now,
)
from stream_jobs.claim_stage import (
    ClaimMatching,
    claim_evidence,
    match_claims,
    with_claim_evidence,
)
from stream_jobs.dedup import DedupEntry, DedupIndex, band_keys, content_hash
from stream_jobs.exceptions import RejectedRecord
from stream_jobs.parse import ParseLimits, parse_record, redact_personal
from stream_jobs.routing import RoutingPolicy, route

__all__ = [
    "BatchResult",
    "InboundRecord",
    "PipelineContext",
    "SharedDedup",
    "dead_letter",
    "process_batch",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundRecord:
    origin: str  # "file.jsonl:12", "posts.raw/3@1042"
    data: bytes


class SharedDedup(Protocol):
    """First sightings other writers stored, by content hash or MinHash band."""

    def candidates(self, hashes: Sequence[str], bands: Sequence[bytes]) -> Iterable[DedupEntry]:
        """Entries matching any of them; none when there is nothing to find."""


@dataclass
class PipelineContext:
    classifier: Classifier
    dedup: DedupIndex
    policy: RoutingPolicy
    limits: ParseLimits
    pseudonym_key: bytes
    # Set by a stream worker (several share the store); None in the embedded runner, the only
    # writer of its store, whose index already holds everything stored.
    shared_dedup: SharedDedup | None = None
    embedder: Embedder | None = None  # None: posts are not embedded
    claims: ClaimMatching | None = None  # None: no claim library (or none published)


@dataclass
class BatchResult:
    posts: list[NormalizedPost] = field(default_factory=list)  # new, classified
    duplicates: list[NormalizedPost] = field(default_factory=list)
    classifications: list[Classification] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    signatures: dict[str, bytes | None] = field(default_factory=dict)
    embeddings: dict[str, PostEmbedding] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        return len(self.posts) + len(self.duplicates) + len(self.dead_letters)


def dead_letter(
    record: InboundRecord, exc: RejectedRecord, now: datetime, pseudonym_key: bytes
) -> DeadLetter:
    """The record kept with its reason; personal fields in its bytes replaced by their keyed
    hash first, so a dead letter never holds a handle in clear."""
    return DeadLetter(
        stage=exc.stage,
        reason_code=exc.code,
        reason=exc.reason,
        origin=record.origin,
        original_b64=DeadLetter.encode(redact_personal(record.data, pseudonym_key)),
        at=now,
    )


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A post's text normalised and fingerprinted, before it is judged new or a repeat."""

    raw: RawPost
    text: str
    title: str | None
    folded: str
    language: str
    language_confidence: float
    digest: str
    signature: bytes | None


def _prepare(raw: RawPost, index: DedupIndex) -> _Prepared:
    text = normalize_text(raw.text)
    title = normalize_text(raw.title) if raw.title else None
    folded = fold(text)
    guess = detect_language(text if not title else f"{title}\n{text}")
    return _Prepared(
        raw, text, title, folded, guess.code, guess.confidence,
        content_hash(folded), index.signature_for(folded),
    )  # fmt: skip


def _judge(prepared: _Prepared, index: DedupIndex, now: datetime) -> NormalizedPost:
    raw = prepared.raw
    verdict = index.check(raw.post_id, prepared.digest, prepared.signature)
    return NormalizedPost(
        post_id=raw.post_id,
        raw=raw,
        text=prepared.text,
        title=prepared.title,
        folded=prepared.folded,
        language=prepared.language,
        language_confidence=prepared.language_confidence,
        content_hash=prepared.digest,
        cluster_id=verdict.cluster_id,
        duplicate_of=verdict.duplicate_of,
        duplicate_kind=verdict.kind,
        normalized_at=now,
    )


def _pull_shared(shared: SharedDedup, index: DedupIndex, batch: Sequence[_Prepared]) -> None:
    """Add to `index` what other writers stored that this batch's misses may repeat."""
    misses = [p for p in batch if index.check(p.raw.post_id, p.digest, p.signature).kind is None]
    if not misses:
        return
    bands = [band for p in misses if p.signature is not None for band in band_keys(p.signature)]
    for entry in shared.candidates([p.digest for p in misses], bands):
        index.add(entry)


def _processing_error(stage: str, exc: Exception) -> RejectedRecord:
    return RejectedRecord(
        RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}", stage=stage
    )


T = TypeVar("T")
R = TypeVar("R")


def _isolating(
    stage: str, fn: Callable[[list[T]], Sequence[R]], items: list[T]
) -> tuple[list[R], list[int]]:
    """`fn` over the whole batch; if that fails, item by item, so that one record a model
    cannot take costs that record (returned by index), not the batch."""
    try:
        return list(fn(items)), []
    except Exception:
        log.exception("%s failed on the batch; retrying record by record", stage)
    results: list[R] = []
    failed = []
    for i, item in enumerate(items):
        try:
            results.extend(fn([item]))
        except Exception:
            log.exception("%s failed on one record", stage)
            failed.append(i)
    return results, failed


def _embed(posts: list[NormalizedPost], embedder: Embedder) -> list[PostEmbedding]:
    return embedder.embed_posts([post_passage(p.title, p.text) for p in posts])


def _classifier_input(post: NormalizedPost, embedding: PostEmbedding | None) -> ClassifierInput:
    raw = post.raw
    return ClassifierInput(
        post.post_id, post.text, post.title, raw.engagement, post.language, raw.kind, embedding
    )


def process_batch(
    records: Sequence[InboundRecord], ctx: PipelineContext, now: datetime | None = None
) -> BatchResult:
    now = now or utc_now()
    out = BatchResult()
    prepared: list[tuple[InboundRecord, _Prepared]] = []
    for record in records:
        try:
            prepared.append((record, _prepare(parse_record(record.data, limits=ctx.limits),
                                              ctx.dedup)))  # fmt: skip
        except RejectedRecord as exc:
            out.dead_letters.append(dead_letter(record, exc, now, ctx.pseudonym_key))
        except Exception as exc:
            # A bug must cost one record, not the run: keep the record and the error to replay.
            log.exception("normalising %s failed", record.origin)
            error = _processing_error("normalise", exc)
            out.dead_letters.append(dead_letter(record, error, now, ctx.pseudonym_key))
    if ctx.shared_dedup is not None:
        _pull_shared(ctx.shared_dedup, ctx.dedup, [p for _, p in prepared])
    fresh: list[tuple[InboundRecord, NormalizedPost]] = []
    for record, ready in prepared:
        try:
            post = _judge(ready, ctx.dedup, now)
        except Exception as exc:
            log.exception("normalising %s failed", record.origin)
            error = _processing_error("normalise", exc)
            out.dead_letters.append(dead_letter(record, error, now, ctx.pseudonym_key))
            continue
        if post.duplicate_kind is not None:
            out.duplicates.append(post)
            continue
        # Indexed now so that a repeat later in this same batch is caught.
        ctx.dedup.add(DedupEntry(post.post_id, post.content_hash, ready.signature, post.cluster_id))
        out.signatures[post.post_id] = ready.signature
        fresh.append((record, post))
    if not fresh:
        return out
    embeddings: list[PostEmbedding | None] = [None] * len(fresh)
    if ctx.embedder is not None:
        embedder = ctx.embedder
        found, failed = _isolating("embed", lambda posts: _embed(posts, embedder),
                                   [post for _, post in fresh])  # fmt: skip
        fresh = _drop_failed(fresh, failed, "embed", ctx, out, now)
        embeddings = list(found)
        out.embeddings = {post.post_id: e for (_, post), e in zip(fresh, found, strict=True)}
    inputs = [_classifier_input(post, e) for (_, post), e in zip(fresh, embeddings, strict=True)]
    classifications, failed = _isolating("classify", ctx.classifier.predict, inputs)
    fresh = _drop_failed(fresh, failed, "classify", ctx, out, now)
    if ctx.claims is not None:
        found_claims = match_claims([p for _, p in fresh], out.embeddings, ctx.claims, now)
        classifications = [
            with_claim_evidence(result, claim_evidence(matches, ctx.claims))
            for result, matches in zip(classifications, found_claims, strict=True)
        ]
    for (_, post), result in zip(fresh, classifications, strict=True):
        out.posts.append(post)
        out.classifications.append(result)
        alert = route(post, result, ctx.policy, now)
        if alert is not None:
            out.alerts.append(alert)
    return out


def _drop_failed(
    fresh: list[tuple[InboundRecord, NormalizedPost]],
    failed: list[int],
    stage: str,
    ctx: PipelineContext,
    out: BatchResult,
    now: datetime,
) -> list[tuple[InboundRecord, NormalizedPost]]:
    """`fresh` without the records a stage failed on; those go to the dead letters."""
    if not failed:
        return fresh
    for i in failed:
        record, post = fresh[i]
        ctx.dedup.discard(post.post_id)  # a replay of the dead letter must not look like a repeat
        del out.signatures[post.post_id]
        out.embeddings.pop(post.post_id, None)
        error = RejectedRecord(
            RejectReason.PROCESSING_ERROR, f"{stage} failed on this record", stage=stage
        )
        out.dead_letters.append(dead_letter(record, error, now, ctx.pseudonym_key))
    dropped = set(failed)
    return [item for i, item in enumerate(fresh) if i not in dropped]
