"""The review-store contract, run against every backend: SQLite (a real database file) and
OpenSearch (the real server of `make stack-up`). Backend-specific checks live beside it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from alerting.exceptions import AlertNotFound, DecisionConflict, StoreError
from alerting.store import AlertQuery, AlertStore
from schemas import (
    AlertStatus,
    AuditAction,
    DecisionAction,
    DuplicateKind,
    Label,
    Severity,
    utc_now,
)
from stream_jobs.dedup import DedupEntry, DedupIndex, band_keys
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import StoreDedupLookup, stored_batch
from tests.conftest import line
from tests.integration.helpers import HATE, decision, fill

pytestmark = pytest.mark.integration


@pytest.fixture
def store(any_store: AlertStore) -> AlertStore:
    """Shadows the SQLite-only `store` fixture: every test here runs on every backend."""
    return any_store


def test_write_batch_is_idempotent(store: AlertStore, ctx: PipelineContext) -> None:
    batch = [InboundRecord("t:1", line(external_id="x", text=HATE)), InboundRecord("t:2", b"{")]
    result = process_batch(batch, ctx)
    assert store.write_batch(stored_batch(result)) == 1
    assert store.write_batch(stored_batch(result)) == 0  # replay after a crash: nothing new
    counts = store.counts()
    assert counts["alerts"] == {"pending_review": 1}
    assert counts["audit_events"] == 1
    assert counts["dead_letters"] == {"malformed_json": 1}  # one record, however often replayed


def test_alert_detail_has_post_evidence_and_duplicates(
    store: AlertStore, ctx: PipelineContext
) -> None:
    batch = [
        InboundRecord("t:1", line(external_id="a", text=HATE)),
        InboundRecord("t:2", line(external_id="b", text=HATE + " chia sẻ ngay nha mọi người")),
    ]
    result = process_batch(batch, ctx)
    store.write_batch(stored_batch(result))
    [alert] = result.alerts
    detail = store.get_alert(alert.alert_id)
    assert detail.post.text == HATE
    assert detail.classification is not None
    assert Label.HATE in detail.classification.labels
    assert [d.duplicate_of for d in detail.duplicates] == [alert.post_id]
    with pytest.raises(AlertNotFound):
        store.get_alert("al_" + "f" * 32)


def test_confirm_records_decision_and_audit(store: AlertStore, ctx: PipelineContext) -> None:
    [alert_id, *_] = fill(store, ctx)
    updated = store.decide(
        decision(alert_id, DecisionAction.CONFIRM, category=Label.HATE, destinations=["cong_an"])
    )
    assert updated.status is AlertStatus.CONFIRMED
    assert updated.version == 2
    events = store.audit_log(target=alert_id)
    assert [e.action.value for e in events] == ["alert.created", "alert.confirmed"]
    last = events[-1]
    assert (last.actor, last.reason) == ("lan", "đã xem xét nội dung")
    assert last.details == {
        "from": "pending_review",
        "to": "confirmed",
        "category": "hate",
        "destinations": ["cong_an"],
    }
    assert store.verify_audit_chain() == len(store.audit_log(limit=1000))


def test_second_decision_conflicts_and_changes_nothing(
    store: AlertStore, ctx: PipelineContext
) -> None:
    [alert_id, *_] = fill(store, ctx)
    store.decide(decision(alert_id, DecisionAction.DISMISS))
    with pytest.raises(DecisionConflict, match="already dismissed"):
        store.decide(decision(alert_id, DecisionAction.CONFIRM, category=Label.HATE))
    assert store.get_alert(alert_id).alert.status is AlertStatus.DISMISSED
    assert len(store.get_alert(alert_id).decisions) == 1


def test_stale_version_conflicts(store: AlertStore, ctx: PipelineContext) -> None:
    [alert_id, *_] = fill(store, ctx)
    store.decide(decision(alert_id, DecisionAction.ESCALATE), expected_version=1)
    with pytest.raises(DecisionConflict, match="version"):
        store.decide(decision(alert_id, DecisionAction.DISMISS), expected_version=1)
    store.decide(decision(alert_id, DecisionAction.DISMISS), expected_version=2)


def test_queue_pagination_and_filters(store: AlertStore, ctx: PipelineContext) -> None:
    ids = fill(store, ctx, n=7)
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_alerts(AlertQuery(limit=3, cursor=cursor))
        seen += [a.alert_id for a in page.alerts]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    store.decide(decision(ids[0], DecisionAction.DISMISS))
    pending = store.list_alerts(AlertQuery(status=AlertStatus.PENDING, limit=50)).alerts
    assert ids[0] not in {a.alert_id for a in pending}
    assert store.list_alerts(AlertQuery(label=Label.SPAM)).alerts == []
    assert len(store.list_alerts(AlertQuery(label=Label.HATE, limit=50)).alerts) == 7
    high = store.list_alerts(AlertQuery(severity=Severity.CRITICAL)).alerts
    assert all(a.severity is Severity.CRITICAL for a in high)
    with pytest.raises(StoreError, match="cursor"):
        store.list_alerts(AlertQuery(cursor="not-a-cursor"))


def test_dedup_seeds_warm_a_new_index(store: AlertStore, ctx: PipelineContext) -> None:
    long_text = HATE + " và những lời lẽ khác nữa"
    first = process_batch([InboundRecord("t:1", line(external_id="a", text=long_text))], ctx)
    store.write_batch(stored_batch(first))
    fill(store, ctx, n=2)
    seeds = {s.post_id: s for s in store.dedup_seeds(10)}
    assert len(seeds) == 3
    assert seeds[first.posts[0].post_id].signature is not None  # long enough for near-dups
    fresh = DedupIndex()
    for seed in seeds.values():
        fresh.add(DedupEntry(seed.post_id, seed.content_hash, seed.signature, seed.cluster_id))
    ctx.dedup = fresh
    again = process_batch([InboundRecord("t:2", line(external_id="z", text=long_text + " !"))], ctx)
    # Found through the signature loaded from the store (the text differs by a "!").
    assert [d.duplicate_kind for d in again.duplicates] == [DuplicateKind.NEAR]


def test_a_second_worker_finds_the_first_workers_posts_through_the_store(
    store: AlertStore, ctx: PipelineContext
) -> None:
    """Two workers, two indexes, one store: the second judges a repeat (exact, or near by a
    shared MinHash band) of what the first stored as a repeat, pointing at the first post."""
    long_text = HATE + " và những lời lẽ khác nữa trên mạng xã hội"
    first = process_batch([InboundRecord("a:1", line(external_id="a", text=long_text))], ctx)
    store.write_batch(stored_batch(first))
    fill(store, ctx, n=2)
    [original] = first.posts
    other = PipelineContext(
        ctx.classifier, DedupIndex(), ctx.policy, ctx.limits, ctx.pseudonym_key,
        shared_dedup=StoreDedupLookup(store),
    )  # fmt: skip
    unrelated = "Một bài viết hoàn toàn khác hẳn về thời tiết hôm nay ở Huế"
    batch = [
        InboundRecord("b:1", line(external_id="near", text=long_text + " chia sẻ ngay nhé")),
        InboundRecord("b:2", line(external_id="exact", text=long_text.upper())),
        InboundRecord("b:3", line(external_id="new", text=unrelated)),
    ]
    result = process_batch(batch, other)
    judged = {d.raw.external_id: d for d in result.duplicates}
    assert judged["near"].duplicate_kind is DuplicateKind.NEAR
    assert judged["exact"].duplicate_kind is DuplicateKind.EXACT
    assert {d.duplicate_of for d in judged.values()} == {original.post_id}
    assert {d.cluster_id for d in judged.values()} == {original.cluster_id}
    assert [p.raw.external_id for p in result.posts] == ["new"]
    # no second alert for the same content (the unrelated post may have one of its own)
    assert {a.post_id for a in result.alerts} <= {p.post_id for p in result.posts}
    alone = PipelineContext(
        ctx.classifier, DedupIndex(), ctx.policy, ctx.limits, ctx.pseudonym_key
    )  # without the lookup, the repeat of another worker's post was new: the finding this closes
    assert [p.raw.external_id for p in process_batch(batch, alone).posts] == ["near", "new"]


def test_an_exact_repeat_is_found_even_when_many_posts_share_its_bands(
    store: AlertStore, ctx: PipelineContext
) -> None:
    """A template-heavy batch can share MinHash bands with more stored posts than one look-up
    returns; exact matches come first, so they are never the ones cut off."""
    base = HATE + " và những lời lẽ khác nữa trên mạng xã hội hôm nay"
    stored = []
    for i in range(6):  # near-duplicates of each other, each stored as a first sighting
        alone = dataclasses.replace(ctx, dedup=DedupIndex())
        text = base + f" lần {i}" if i else "Một bài hoàn toàn khác về giá vàng tăng mạnh sáng nay"
        # the exact match is the newest: oldest-first alone would cut it off
        when = "2026-11-29T10:00:00+07:00" if i == 0 else "2026-11-28T10:00:00+07:00"
        record = line(external_id=f"c{i}", text=text, collected_at=when)
        result = process_batch([InboundRecord(f"c:{i}", record)], alone)
        store.write_batch(stored_batch(result))
        stored.append(result)
    exact = stored[0].posts[0]
    bands = [b for r in stored[1:] for s in r.signatures.values() if s for b in band_keys(s)]
    found = store.dedup_candidates([exact.content_hash], bands, limit=2)
    assert found[0].post_id == exact.post_id
    assert len(found) == 2


def test_other_audit_entries_join_the_same_chain(store: AlertStore, ctx: PipelineContext) -> None:
    result = process_batch([InboundRecord("t:1", line(external_id="x", text=HATE))], ctx)
    store.write_batch(stored_batch(result))
    store.record_audit("lan", AuditAction.USER_LOGIN, "user:lan", None, {"client": "10.0.0.1"})
    store.record_audit(
        "cli:root",
        AuditAction.USER_ROLE_CHANGED,
        "user:lan",
        "lên giám sát",
        {"from": "analyst", "to": "supervisor"},
    )
    events = store.audit_log(limit=10)
    assert [e.action for e in events] == [
        AuditAction.ALERT_CREATED,
        AuditAction.USER_LOGIN,
        AuditAction.USER_ROLE_CHANGED,
    ]
    assert events[2].details == {"from": "analyst", "to": "supervisor"}
    assert [e.seq for e in store.audit_log(target="user:lan")] == [2, 3]
    assert store.verify_audit_chain() == 3


def test_posts_by_id_returns_the_ones_that_exist(store: AlertStore, ctx: PipelineContext) -> None:
    result = process_batch(
        [
            InboundRecord("t:1", line(external_id="x", text=HATE)),
            InboundRecord("t:2", line(external_id="y", text="hôm nay trời đẹp")),
        ],
        ctx,
    )
    store.write_batch(stored_batch(result))
    wanted = [p.post_id for p in result.posts] + ["0" * 32]
    found = store.posts_by_id(wanted)
    assert set(found) == {p.post_id for p in result.posts}
    assert found[result.posts[0].post_id].text == result.posts[0].text
    assert store.posts_by_id([]) == {}


def test_word_search_ignores_accents_and_needs_every_word(
    store: AlertStore, ctx: PipelineContext
) -> None:
    texts = ["bọn bắc kỳ cút hết về quê đi", "lũ tàu khựa đáng chết hết ở Đà Nẵng"]
    result = process_batch(
        [InboundRecord(f"t:{i}", line(external_id=str(i), text=t)) for i, t in enumerate(texts)],
        ctx,
    )
    store.write_batch(stored_batch(result))
    by_post = {a.post_id: a.alert_id for a in result.alerts}
    first, second = (by_post[p.post_id] for p in result.posts)

    def found(words: str) -> list[str]:
        return [a.alert_id for a in store.list_alerts(AlertQuery(text=words)).alerts]

    assert found("bac ky") == [first]
    assert found("Bắc Kỳ") == [first]
    assert found("da nang") == [second]  # đ folds to d
    assert found("hết") == found("het")
    assert sorted(found("het")) == sorted([first, second])
    assert found("bac nang") == []  # every word must appear
    assert found('"); DROP TABLE alerts; --') == []  # words are data, never query syntax
    assert [a.alert_id for a in store.list_alerts(AlertQuery(text="   ")).alerts]


def test_claims_one_analyst_per_alert_with_lapse_assignment_and_release(
    store: AlertStore, ctx: PipelineContext
) -> None:
    [alert_id, other] = fill(store, ctx, 2)
    soon = utc_now() + timedelta(minutes=15)
    held = store.claim(alert_id, "lan", soon)
    assert (held.assignee, held.version) == ("lan", 2)
    assert store.claim(alert_id, "lan", soon).assignee == "lan"  # renewing one's own claim
    with pytest.raises(DecisionConflict, match="being reviewed by lan"):
        store.claim(alert_id, "minh", soon)
    with pytest.raises(DecisionConflict, match="being reviewed by lan"):
        store.decide(decision(alert_id, DecisionAction.DISMISS, analyst="minh"))
    with pytest.raises(DecisionConflict, match="held by lan"):
        store.release(alert_id, "minh")
    assigned = store.claim(alert_id, "minh", soon, assigned_by="giamsat")
    assert assigned.assignee == "minh"
    assert [a.alert_id for a in store.list_alerts(AlertQuery(assignee="minh")).alerts] == [alert_id]
    decided = store.decide(decision(alert_id, DecisionAction.DISMISS, analyst="minh"))
    assert decided.assignee is None
    with pytest.raises(DecisionConflict, match="already dismissed"):
        store.claim(alert_id, "lan", soon)
    # A lapsed claim stands in nobody's way.
    store.claim(other, "lan", utc_now() - timedelta(seconds=1))
    assert store.claim(other, "minh", soon).assignee == "minh"
    assert store.release(other, "minh").assignee is None
    actions = [e.action for e in store.audit_log(target=alert_id)]
    assert actions[-3:] == [
        AuditAction.ALERT_CLAIMED,
        AuditAction.ALERT_ASSIGNED,
        AuditAction.ALERT_DISMISSED,
    ]
    assert [e.actor for e in store.audit_log(target=alert_id)][-2] == "giamsat"
    assert store.verify_audit_chain() > 0


def test_processed_returns_each_stored_post_with_its_classification_and_alert(
    store: AlertStore, ctx: PipelineContext
) -> None:
    """What a replayed batch re-publishes (reliability findings 3 and 4)."""
    from stream_jobs.pipeline import InboundRecord, process_batch
    from stream_jobs.storing import stored_batch

    texts = [HATE, "hôm nay trời đẹp quá đi chơi thôi"]
    result = process_batch(
        [InboundRecord(f"p:{i}", line(external_id=f"p{i}", text=t)) for i, t in enumerate(texts)],
        ctx,
    )
    store.write_batch(stored_batch(result))
    ids = [p.post_id for p in result.posts]
    found = {p.post.post_id: p for p in store.processed([*ids, "f" * 32])}
    assert set(found) == set(ids)  # an unknown id is simply absent
    for post, verdict in zip(result.posts, result.classifications, strict=True):
        assert found[post.post_id].classification == verdict
    alerted = {a.post_id: a.alert_id for a in result.alerts}
    for post_id, item in found.items():
        assert (item.alert.alert_id if item.alert else None) == alerted.get(post_id)
    assert store.processed([]) == []


def test_embeddings_are_stored_and_read_back_with_their_encoder(
    store: AlertStore, ctx: PipelineContext, tiny_encoder_dir: Path
) -> None:
    from classifiers.encoder.runtime import SentenceEncoder

    encoder = SentenceEncoder.load(tiny_encoder_dir)
    embedding = dataclasses.replace(ctx, embedder=encoder)
    batch = [
        InboundRecord("e:1", line(external_id="e1", text="hôm nay trời đẹp quá đi chơi thôi")),
        InboundRecord("e:2", line(external_id="e2", text="xin chào bạn, hôm nay thế nào")),
        InboundRecord("e:3", line(external_id="e3", text="HÔM NAY TRỜI ĐẸP QUÁ ĐI CHƠI THÔI")),
    ]
    result = process_batch(batch, embedding)
    store.write_batch(stored_batch(result))
    store.write_batch(stored_batch(result))  # a replay stores nothing twice
    ids = [p.post_id for p in result.posts]
    found = store.embeddings([*ids, result.duplicates[0].post_id, "f" * 32])
    assert sorted(found) == sorted(ids)  # duplicates carry no vector of their own
    for post_id in ids:
        assert found[post_id].model == encoder.name
        np.testing.assert_allclose(
            found[post_id].vector, result.embeddings[post_id].vector, atol=2e-3
        )
    assert store.embeddings([]) == {}


def test_claim_sightings_count_matched_posts_and_their_copies(
    store: AlertStore, ctx: PipelineContext
) -> None:
    from tests.unit.test_claim_stage import IDS, REPEAT, LexicalMatching

    batch = [
        InboundRecord("t:1", line(external_id="m", text=REPEAT)),
        InboundRecord(
            "t:2",
            line(external_id="c", platform="youtube", text=REPEAT + " Chia sẻ ngay nha mọi người."),
        ),
        InboundRecord(
            "t:3", line(external_id="o", text="Hôm nay trời đẹp, đi dạo công viên thôi.")
        ),
    ]
    started = utc_now()
    result = process_batch(batch, dataclasses.replace(ctx, claims=LexicalMatching()))
    store.write_batch(stored_batch(result))
    [copy] = [d for d in result.duplicates]
    sightings = store.claim_sightings([IDS["c04"], IDS["c01"]])
    assert [(s.claim_id, s.duplicate, s.platform) for s in sightings] == [
        (IDS["c04"], False, "facebook"),
        (IDS["c04"], True, "youtube"),
    ]
    assert sightings[1].post_id == copy.post_id
    assert store.claim_sightings([IDS["c04"]], since=started + timedelta(hours=1)) == []
    assert store.claim_sightings([IDS["c01"]]) == []
    assert store.claim_sightings([]) == []
