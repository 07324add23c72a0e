"""`process_batch`: every record is accounted for; the same function serves both runners."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from classifiers import ClassifierInput
from schemas import (
    Classification,
    DuplicateKind,
    RejectReason,
    SkipReason,
    post_id_for,
    utc_now,
)
from stream_jobs.dedup import DedupEntry, DedupIndex, DupVerdict, band_keys
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from tests.conftest import line

HATE = "bọn bắc kỳ cút hết về quê đi đừng ở đây nữa"


def records(*datas: bytes) -> list[InboundRecord]:
    return [InboundRecord(f"test:{i}", d) for i, d in enumerate(datas, start=1)]


def test_mixed_batch_accounts_for_every_record(ctx: PipelineContext) -> None:
    batch = records(
        line(external_id="1", text=HATE),
        line(external_id="2", text="hôm nay trời đẹp quá đi chơi thôi mọi người"),
        line(external_id="3", text=HATE.upper()),  # exact duplicate of 1
        line(external_id="1", text=HATE),  # the same item again
        b"{broken",
        line(external_id="4", text="Great article, thanks for sharing it with everyone"),
        line(external_id="5", text="😂😂"),
    )
    result = process_batch(batch, ctx)
    assert result.accounted == len(batch)
    assert len(result.posts) == 4
    assert [d.duplicate_kind for d in result.duplicates] == [
        DuplicateKind.EXACT,
        DuplicateKind.SAME_POST,
    ]
    assert [d.reason_code for d in result.dead_letters] == [RejectReason.MALFORMED_JSON]
    assert result.dead_letters[0].original == b"{broken"
    assert result.dead_letters[0].origin == "test:5"
    skipped = {c.skipped for c in result.classifications}
    assert skipped == {None, SkipReason.NOT_VIETNAMESE, SkipReason.NO_TEXT}
    assert [a.post_id for a in result.alerts] == [result.posts[0].post_id]


def test_text_is_normalised_and_language_recorded(ctx: PipelineContext) -> None:
    result = process_batch(records(line(text="Mong  thành phố sớm hoà giải, bà con khoẻ re")), ctx)
    post = result.posts[0]
    assert post.text == "Mong thành phố sớm hòa giải, bà con khỏe re"
    assert post.folded == "mong thanh pho som hoa giai, ba con khoe re"
    assert post.language == "vi"


def test_old_and_new_tone_styles_are_exact_duplicates(ctx: PipelineContext) -> None:
    result = process_batch(
        records(
            line(external_id="a", text="Mong thành phố sớm hoà giải, bà con khoẻ re"),
            line(external_id="b", text="Mong thành phố sớm hòa giải, bà con khỏe re"),
        ),
        ctx,
    )
    assert [d.duplicate_kind for d in result.duplicates] == [DuplicateKind.EXACT]


class FlakyClassifier:
    """Fails on one poisoned text, as a buggy model or a bad input might."""

    name = "flaky"
    version = "1"

    def predict(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        if any("poison" in item.text for item in batch):
            raise RuntimeError("model crashed")
        return [
            Classification(
                post_id=item.post_id,
                model=self.name,
                model_version=self.version,
                scores={},
                thresholds={},
                labels=[],
                classified_at=utc_now(),
            )
            for item in batch
        ]


def test_classifier_failure_dead_letters_only_the_poisoned_record(ctx: PipelineContext) -> None:
    ctx.classifier = FlakyClassifier()
    batch = records(
        line(external_id="1", text="bài viết bình thường số một"),
        line(external_id="2", text="poison pill"),
        line(external_id="3", text="bài viết bình thường số ba"),
    )
    result = process_batch(batch, ctx)
    assert result.accounted == 3
    assert len(result.posts) == 2
    [letter] = result.dead_letters
    assert letter.reason_code is RejectReason.PROCESSING_ERROR
    assert letter.stage == "classify"
    # Replaying the dead letter later must not be mistaken for a duplicate.
    ctx.classifier = FlakyClassifier()
    replay = process_batch(records(line(external_id="2", text="poison pill")), ctx)
    assert not replay.duplicates


class BrokenIndex(DedupIndex):
    """Fails on one post, as a bug in a stage might."""

    def __init__(self, poisoned: str) -> None:
        super().__init__()
        self.poisoned = poisoned

    def check(self, post_id: str, digest: str, signature: bytes | None) -> DupVerdict:
        if post_id == self.poisoned:
            raise RuntimeError("index corrupted")
        return super().check(post_id, digest, signature)


def test_unexpected_error_in_a_stage_costs_one_record_not_the_run(ctx: PipelineContext) -> None:
    ctx.dedup = BrokenIndex(poisoned=post_id_for("facebook", "2"))
    batch = records(*(line(external_id=str(i), text=f"bài viết số {i}") for i in (1, 2, 3)))
    result = process_batch(batch, ctx)
    assert result.accounted == 3
    assert len(result.posts) == 2
    [letter] = result.dead_letters
    assert letter.reason_code is RejectReason.PROCESSING_ERROR
    assert letter.stage == "normalise"
    assert letter.reason == "RuntimeError: index corrupted"
    assert letter.origin == "test:2"


class OtherWorkers:
    """What other workers stored, as the store's lookup answers it (by hash or band)."""

    def __init__(self, entries: list[DedupEntry]) -> None:
        self.entries = entries
        self.asked: list[tuple[int, int]] = []

    def candidates(self, hashes: Sequence[str], bands: Sequence[bytes]) -> list[DedupEntry]:
        self.asked.append((len(hashes), len(bands)))
        wanted = set(bands)
        return [
            e
            for e in self.entries
            if e.content_hash in hashes
            or (e.signature is not None and wanted & set(band_keys(e.signature)))
        ]


def test_misses_are_looked_up_once_per_batch_in_what_other_workers_stored(
    ctx: PipelineContext,
) -> None:
    long_text = HATE + " và những lời lẽ khác nữa trên mạng xã hội"
    first = process_batch(records(line(external_id="a", text=long_text)), ctx)
    [original] = first.posts
    stored = [
        DedupEntry(
            original.post_id,
            original.content_hash,
            first.signatures[original.post_id],
            original.cluster_id,
        )
    ]
    others = OtherWorkers(stored)
    second = dataclasses.replace(ctx, dedup=DedupIndex(), shared_dedup=others)
    result = process_batch(
        records(
            line(external_id="b", text=long_text + " chia sẻ ngay"),
            line(external_id="c", text="hôm nay trời đẹp quá đi chơi thôi mọi người ơi"),
        ),
        second,
    )
    assert [(d.duplicate_kind, d.duplicate_of) for d in result.duplicates] == [
        (DuplicateKind.NEAR, original.post_id)
    ]
    assert [p.raw.external_id for p in result.posts] == ["c"]
    assert others.asked == [(2, 16)]  # one lookup for the batch: two hashes, eight bands each
    again = process_batch(records(line(external_id="d", text=long_text + " nhé")), second)
    assert [d.duplicate_kind for d in again.duplicates] == [DuplicateKind.NEAR]
    assert others.asked == [(2, 16)]  # the original is in this index now: nothing to look up
