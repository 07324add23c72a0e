"""The pipeline as plain functions: parse → normalise → language → dedup → classify → route.

`process_batch` is the single implementation both runners call: the embedded runner with records
from a file through the in-process queue, the stream worker with records from Kafka. It does no
I/O; the runner stores the `BatchResult` and only then commits its input position.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from classifiers import Classifier, ClassifierInput
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
from stream_jobs.dedup import DedupEntry, DedupIndex, content_hash
from stream_jobs.exceptions import RejectedRecord
from stream_jobs.parse import ParseLimits, parse_record, redact_personal
from stream_jobs.routing import RoutingPolicy, route

__all__ = [
    "BatchResult",
    "InboundRecord",
    "PipelineContext",
    "dead_letter",
    "normalise",
    "process_batch",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundRecord:
    origin: str  # "file.jsonl:12", "posts.raw/3@1042"
    data: bytes


@dataclass
class PipelineContext:
    classifier: Classifier
    dedup: DedupIndex
    policy: RoutingPolicy
    limits: ParseLimits
    pseudonym_key: bytes


@dataclass
class BatchResult:
    posts: list[NormalizedPost] = field(default_factory=list)  # new, classified
    duplicates: list[NormalizedPost] = field(default_factory=list)
    classifications: list[Classification] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    signatures: dict[str, bytes | None] = field(default_factory=dict)

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


def normalise(
    raw: RawPost, index: DedupIndex, now: datetime
) -> tuple[NormalizedPost, bytes | None]:
    """Normalise text, detect language and look the post up in the dedup index."""
    text = normalize_text(raw.text)
    title = normalize_text(raw.title) if raw.title else None
    folded = fold(text)
    guess = detect_language(text if not title else f"{title}\n{text}")
    digest = content_hash(folded)
    signature = index.signature_for(folded)
    verdict = index.check(raw.post_id, digest, signature)
    post = NormalizedPost(
        post_id=raw.post_id,
        raw=raw,
        text=text,
        title=title,
        folded=folded,
        language=guess.code,
        language_confidence=guess.confidence,
        content_hash=digest,
        cluster_id=verdict.cluster_id,
        duplicate_of=verdict.duplicate_of,
        duplicate_kind=verdict.kind,
        normalized_at=now,
    )
    return post, signature


def _classify(
    posts: list[NormalizedPost], ctx: PipelineContext
) -> tuple[list[Classification], list[int]]:
    """Classify in one batch; if the batch fails, isolate the records that fail alone."""
    inputs = [
        ClassifierInput(p.post_id, p.text, p.title, p.raw.engagement, p.language, p.raw.kind)
        for p in posts
    ]
    try:
        return ctx.classifier.predict(inputs), []
    except Exception:
        log.exception("batch classification failed; retrying record by record")
    results, failed = [], []
    for i, item in enumerate(inputs):
        try:
            results.extend(ctx.classifier.predict([item]))
        except Exception:
            log.exception("classification failed for post %s", item.post_id)
            failed.append(i)
    return results, failed


def process_batch(
    records: Sequence[InboundRecord], ctx: PipelineContext, now: datetime | None = None
) -> BatchResult:
    now = now or utc_now()
    out = BatchResult()
    fresh: list[tuple[InboundRecord, NormalizedPost]] = []
    for record in records:
        try:
            raw = parse_record(record.data, limits=ctx.limits)
            post, signature = normalise(raw, ctx.dedup, now)
        except RejectedRecord as exc:
            out.dead_letters.append(dead_letter(record, exc, now, ctx.pseudonym_key))
            continue
        except Exception as exc:
            # A bug must cost one record, not the run: keep the record and the error to replay.
            log.exception("normalising %s failed", record.origin)
            error = RejectedRecord(
                RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}", stage="normalise"
            )
            out.dead_letters.append(dead_letter(record, error, now, ctx.pseudonym_key))
            continue
        if post.duplicate_kind is not None:
            out.duplicates.append(post)
            continue
        # Indexed now so that a repeat later in this same batch is caught.
        ctx.dedup.add(DedupEntry(post.post_id, post.content_hash, signature, post.cluster_id))
        out.signatures[post.post_id] = signature
        fresh.append((record, post))
    if not fresh:
        return out
    classifications, failed = _classify([p for _, p in fresh], ctx)
    for i in failed:
        record, post = fresh[i]
        ctx.dedup.discard(post.post_id)  # a replay of the dead letter must not look like a repeat
        del out.signatures[post.post_id]
        error = RejectedRecord(
            RejectReason.PROCESSING_ERROR, "classifier failed on this record", stage="classify"
        )
        out.dead_letters.append(dead_letter(record, error, now, ctx.pseudonym_key))
    failed_set = set(failed)
    kept = [post for i, (_, post) in enumerate(fresh) if i not in failed_set]
    for post, result in zip(kept, classifications, strict=True):
        out.posts.append(post)
        out.classifications.append(result)
        alert = route(post, result, ctx.policy, now)
        if alert is not None:
            out.alerts.append(alert)
    return out
