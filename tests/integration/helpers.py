"""Helpers shared by the store tests of every backend."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from alerting.exceptions import DecisionConflict
from alerting.store import AlertStore
from schemas import AnalystDecision, DecisionAction, RawPost, utc_now
from stream_jobs.pipeline import InboundRecord, PipelineContext, process_batch
from stream_jobs.storing import stored_batch
from tests.conftest import line

HATE = "bọn bắc kỳ cút hết về quê đi đừng ở đây nữa"


class ListSink:
    """A collector's sink that keeps what it is given."""

    def __init__(self) -> None:
        self.posts: list[RawPost] = []

    def deliver(self, posts: Sequence[RawPost]) -> None:
        self.posts.extend(posts)


def fill(store: AlertStore, ctx: PipelineContext, n: int = 3) -> list[str]:
    batch = [
        # Under 8 words: matched exactly only, so each is its own post.
        InboundRecord(f"t:{i}", line(external_id=f"h{i}", text=f"bọn bắc kỳ cút hết {i}"))
        for i in range(n)
    ]
    result = process_batch(batch, ctx)
    store.write_batch(stored_batch(result))
    return [a.alert_id for a in result.alerts]


def store_texts(store: AlertStore, ctx: PipelineContext, texts: list[str]) -> list[str]:
    """Run `texts` through the pipeline into `store`; the ids of the alerts they raised."""
    batch = [
        InboundRecord(f"t:{i}", line(external_id=f"x{i}", text=text))
        for i, text in enumerate(texts)
    ]
    result = process_batch(batch, ctx)
    store.write_batch(stored_batch(result))
    return [a.alert_id for a in result.alerts]


def decision(alert_id: str, action: DecisionAction, **kw: object) -> AnalystDecision:
    fields: dict[str, object] = {
        "alert_id": alert_id,
        "action": action,
        "analyst": "lan",
        "reason": "đã xem xét nội dung",
        "decided_at": utc_now(),
    }
    fields.update(kw)
    return AnalystDecision(**fields)  # type: ignore[arg-type]


def race_two_deciders(first: AlertStore, second: AlertStore, alert_id: str) -> list[str]:
    """Two analysts dismiss one alert at the same moment through two store handles."""
    outcomes: list[str] = []

    def act(store: AlertStore, who: str) -> None:
        try:
            store.decide(decision(alert_id, DecisionAction.DISMISS, analyst=who))
            outcomes.append("ok")
        except DecisionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=act, args=(s, w)) for s, w in ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)
