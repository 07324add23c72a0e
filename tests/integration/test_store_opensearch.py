"""OpenSearch-only behaviour, against the real server: accent-insensitive analysis, racing
deciders on two clients, tamper evidence, and a clear error when the server is away."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from alerting.exceptions import StoreError
from alerting.store import StoredBatch
from alerting.store.opensearch import OpenSearchStore, _chained, _Entry
from classifiers.baseline import BaselineModel
from schemas import AuditAction, DecisionAction, DuplicateKind, utc_now
from stream_jobs.dedup import DedupIndex
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import replay_until_stored, stored_batch, write_until_stored
from tests.conftest import AUDIT_KEY, line
from tests.integration.helpers import decision, fill, race_two_deciders

pytestmark = pytest.mark.integration


@pytest.fixture
def store(opensearch_url: str, unique: str) -> Iterator[OpenSearchStore]:
    search = OpenSearchStore.connect(
        opensearch_url, prefix=unique, refresh=True, audit_key=AUDIT_KEY
    )
    yield search
    search.delete_indices()
    search.close()


def _matches(store: OpenSearchStore, text: str) -> set[str]:
    response = store._client.search(
        index=store.index["posts"], body={"query": {"match": {"text": text}}}
    )
    return {hit["_source"]["text"] for hit in response["hits"]["hits"]}


def test_search_matches_with_or_without_diacritics(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    result = process_batch(
        [
            InboundRecord("t:1", line(external_id="1", text="Ngập nặng ở Hà Nội chiều nay")),
            InboundRecord("t:2", line(external_id="2", text="Giá vàng tăng mạnh hôm nay")),
        ],
        ctx,
    )
    store.write_batch(stored_batch(result))
    hanoi = {"Ngập nặng ở Hà Nội chiều nay"}
    assert _matches(store, "ha noi") == hanoi
    assert _matches(store, "Hà Nội") == hanoi
    assert _matches(store, "HA NOI") == hanoi


def test_racing_deciders_on_two_clients_one_wins(
    store: OpenSearchStore, opensearch_url: str, unique: str, ctx: PipelineContext
) -> None:
    [alert_id, *_] = fill(store, ctx)
    other = OpenSearchStore.connect(
        opensearch_url, prefix=unique, refresh=True, audit_key=AUDIT_KEY
    )
    outcomes = race_two_deciders(store, other, alert_id)
    other.close()
    assert outcomes == ["conflict", "ok"]
    assert len(store.get_alert(alert_id).decisions) == 1
    assert store.verify_audit_chain() == 4  # three created, one decided


def test_rewritten_audit_entry_breaks_the_chain(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    fill(store, ctx)
    assert store.verify_audit_chain() == 3
    store._client.update(
        index=store.index["audit"], id="2", body={"doc": {"actor": "someone else"}}, refresh=True
    )
    with pytest.raises(StoreError, match="chain broken at entry 2"):
        store.verify_audit_chain()


def test_head_lagging_behind_entries_is_repaired(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    ids = fill(store, ctx, n=3)  # audit entries 1-3
    first = store.audit_log(limit=1)[0]
    # As if the writers of entries 2 and 3 had died before moving the head.
    store._client.index(
        index=store.index["audit_head"],
        id="head",
        body={"seq": first.seq, "hash": first.hash},
        refresh=True,
    )
    store.decide(decision(ids[0], DecisionAction.DISMISS))
    events = store.audit_log(limit=10)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[-1].action.value == "alert.dismissed"
    assert store.verify_audit_chain() == 4


def test_a_batch_moves_the_audit_head_once_and_writes_its_entries_in_one_request(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    fill(store, ctx, n=5)
    head = store._client.get(index=store.index["audit_head"], id="head")
    assert head["_version"] == 1  # created once for five alerts, not rewritten per alert
    assert head["_source"]["seq"] == 5
    assert store.verify_audit_chain() == 5


def test_entries_left_in_the_head_by_a_dead_writer_are_written_by_the_next(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    ids = fill(store, ctx, n=2)  # entries 1-2
    # As if a writer had moved the head over entries 3-4 and died before writing them.
    head = store._head()
    lost = [
        _Entry("system:test", AuditAction.AUDIT_EXPORTED, f"x{i}", None, {}, utc_now().isoformat())
        for i in range(2)
    ]
    bodies = _chained(AUDIT_KEY, 2, head.hash, lost)
    store._move_head(4, bodies[-1]["hash"], head.guard, bodies)
    assert store.verify_audit_chain() == 4  # verify writes them first …
    store.decide(decision(ids[0], DecisionAction.DISMISS))  # … and so does the next appender
    events = store.audit_log(limit=10)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.target for e in events[2:4]] == ["x0", "x1"]
    assert store.verify_audit_chain() == 5


def test_concurrent_appenders_on_two_clients_keep_one_chain(
    store: OpenSearchStore, opensearch_url: str, unique: str
) -> None:
    other = OpenSearchStore.connect(
        opensearch_url, prefix=unique, refresh=True, audit_key=AUDIT_KEY
    )

    def append(target: OpenSearchStore, name: str) -> None:
        for i in range(15):
            target.record_audit(f"user:{name}", AuditAction.AUDIT_EXPORTED, f"{name}{i}")

    threads = [
        threading.Thread(target=append, args=(s, n)) for s, n in [(store, "a"), (other, "b")]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert store.verify_audit_chain() == 30
    assert {e.target for e in store.audit_log(limit=100)} == {
        f"{n}{i}" for n in "ab" for i in range(15)
    }


def test_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="OpenSearch"):
        OpenSearchStore(
            OpenSearch(hosts=["http://127.0.0.1:1"], max_retries=0, timeout=2),
            prefix="x",
            audit_key=AUDIT_KEY,
        )


def test_replay_after_a_crash_between_alert_and_audit_writes_audits_exactly_once(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    batch = [InboundRecord("t:1", line(external_id="a", text="bọn bắc kỳ cút hết về quê đi"))]
    result = process_batch(batch, ctx)
    [alert] = result.alerts
    # The crash: the alert document was created, its audit entry never written.
    store._bulk(
        [
            {"create": {"_index": store.index["alerts"], "_id": alert.alert_id}},
            store._alert_body(alert, "facebook"),
        ]
    )
    assert store.write_batch(stored_batch(result)) == 0  # the replay queues nothing new …
    assert [e.target for e in store.audit_log()] == [alert.alert_id]  # … but audits it
    assert store.write_batch(stored_batch(result)) == 0  # and a second replay changes nothing
    assert len(store.audit_log()) == 1
    assert store.verify_audit_chain() == 1


def test_an_alert_whose_post_is_judged_a_duplicate_on_replay_is_still_audited(
    store: OpenSearchStore, ctx: PipelineContext, tiny_model: BaselineModel
) -> None:
    """Found by `canhbao bench faults`: a writer creates the alert of post X and dies before
    storing X; on redelivery a near-duplicate Y stored meanwhile (another partition) makes X a
    sighting, no alert is produced, and the alert already in the queue was never audited nor
    published."""
    hostile = "bọn bắc kỳ cút hết về quê đi đừng ở đây làm bẩn thành phố nữa"
    y = InboundRecord("t:y", line(external_id="y", text=hostile))
    x = InboundRecord("t:x", line(external_id="x", text=f"{hostile} nhé"))
    fresh = PipelineContext(
        tiny_model, DedupIndex(capacity=1000), ctx.policy, ctx.limits, ctx.pseudonym_key
    )
    [orphan] = process_batch([x], fresh).alerts  # the first writer's alert for X …
    store._bulk(store._alert_lines(StoredBatch(alerts=[orphan])))  # … written; then it died
    first = process_batch([y], ctx)
    write_until_stored(store, first)
    again = process_batch([x], ctx)
    assert [p.duplicate_kind for p in again.duplicates] == [DuplicateKind.NEAR]
    assert again.alerts == []
    write_until_stored(store, again)
    replayed = replay_until_stored(store, again)
    assert [p.alert.alert_id for p in replayed if p.alert] == [orphan.alert_id]  # to publish
    created = [e.target for e in store.audit_log() if e.action is AuditAction.ALERT_CREATED]
    assert sorted(created) == sorted([orphan.alert_id, *(a.alert_id for a in first.alerts)])


def test_dedup_warm_up_pages_past_one_search(
    store: OpenSearchStore, ctx: PipelineContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reliability finding 2: the warm-up asked for min(limit, 10_000) posts in one search, so a
    restarted worker forgot older posts and let their exact repeats through. Pages of 5 here
    stand in for pages of 5,000 (one search answers at most 10,000)."""
    import alerting.store.opensearch as module

    fill(store, ctx, n=12)
    monkeypatch.setattr(module, "_PAGE", 1)
    every = [s.post_id for s in store.dedup_seeds(1000)]
    assert len(every) == len(set(every)) == 12
    newest = [s.post_id for s in store.dedup_seeds(7)]
    assert newest == every[-7:]  # the most recent, oldest first


def test_dedup_warm_up_returns_more_than_one_search_can(
    store: OpenSearchStore, ctx: PipelineContext
) -> None:
    """The same finding at its real size: 10,050 posts, all of them back after a restart."""
    from alerting.store import StoredBatch
    from stream_jobs.pipeline import InboundRecord, process_batch

    total = 10_050
    for start in range(0, total, 1_000):
        records = [
            InboundRecord(f"t:{i}", line(external_id=f"n{i}", text=f"tin ngắn số {i} hôm nay"))
            for i in range(start, min(total, start + 1_000))
        ]
        result = process_batch(records, ctx)
        # Posts only: the warm-up reads nothing else (and alerts would cost an audit entry each).
        store.write_batch(StoredBatch(result.posts, signatures=result.signatures))
    store._client.indices.refresh(index=store.index["posts"])
    assert sum(1 for _ in store.dedup_seeds(200_000)) == total
