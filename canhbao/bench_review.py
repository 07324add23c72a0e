"""`canhbao bench review`: the review UI's queue page and word search with 100,000 alerts.

Alerts are made from the synthetic post generator (varied Vietnamese text), with random labels
and severities, so that filters and searches select realistic shares of the queue. Requests go
through the real web app in-process (session cookie, routing, store query, post lookup,
template rendering), timed end to end; the network hop is left out, as it is not the store's.

SQLite is loaded through its normal `write_batch` (audit entries included). OpenSearch is
bulk-loaded with the store's own document builders but without the per-alert audit entries,
which are not read by the queue and would make loading 100,000 alerts take most of an hour.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from alerting.accounts import AccountStore, Role
from alerting.api import create_app
from alerting.store import AlertStore, SQLiteStore, StoredBatch
from alerting.web import mount_review_ui
from canhbao.settings import Settings
from canhbao.synthetic import synthetic_posts
from classifiers.text import fold, normalize_text
from schemas import Alert, Classification, Label, NormalizedPost, Severity
from stream_jobs.parse import ParseLimits, parse_record
from stream_jobs.routing import alert_id_for

__all__ = ["bench_review"]

_SEARCHES = [
    "ha noi",
    "lua dao",
    "vac xin",
    "cat dien",
    "ngap",
    "tre em",
    "chia se ngay",
    "phong toa",
    "gia xang",
    "Bình Thạnh",
    "đường dây nóng",
    "khẩn cấp",
    "thông tin",
    "quận 7",
    "ung thư",
    "bóng đá",
    "vay tiền",
    "mỹ phẩm",
    "hội chợ",
    "kẹt xe",
]
_PASSWORD = "bench-password-123"  # noqa: S105  # a throwaway account in a temp dir


def _batches(count: int, size: int, seed: int = 11) -> Iterator[StoredBatch]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    labels = list(Label)
    severities = [Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    posts: list[NormalizedPost] = []
    results: list[Classification] = []
    alerts: list[Alert] = []
    for i, data in enumerate(synthetic_posts(count, seed=seed)):
        record = json.loads(data)
        record["external_id"] = f"bench-{i}"  # every one a distinct post
        raw = parse_record(json.dumps(record).encode(), limits=ParseLimits())
        text = normalize_text(raw.text)
        folded = fold(text)
        created = now - timedelta(seconds=count - i)
        post = NormalizedPost(
            post_id=raw.post_id,
            raw=raw,
            text=text,
            title=raw.title,
            folded=folded,
            language="vi",
            language_confidence=0.99,
            content_hash=hashlib.sha1(folded.encode(), usedforsecurity=False).hexdigest(),
            cluster_id=raw.post_id,
            normalized_at=created,
        )
        chosen = rng.sample(labels, k=rng.choice((1, 1, 2)))
        scores = {label: round(rng.uniform(0.6, 0.99), 3) for label in chosen}
        results.append(
            Classification(
                post_id=post.post_id,
                model="bench",
                model_version="bench",
                scores=scores,
                thresholds=dict.fromkeys(chosen, 0.5),
                labels=chosen,
                classified_at=created,
            )
        )
        alerts.append(
            Alert(
                alert_id=alert_id_for(post.post_id),
                post_id=post.post_id,
                labels=chosen,
                scores=scores,
                severity=rng.choice(severities),
                cluster_id=post.cluster_id,
                model_version="bench",
                created_at=created,
                updated_at=created,
            )
        )
        posts.append(post)
        if len(posts) == size:
            yield StoredBatch(posts=posts, classifications=results, alerts=alerts)
            posts, results, alerts = [], [], []
    if posts:
        yield StoredBatch(posts=posts, classifications=results, alerts=alerts)


def _load(store: AlertStore, count: int, backend: str) -> float:
    started = time.perf_counter()
    done = 0
    for batch in _batches(count, 2000):
        if backend == "opensearch":
            _bulk_opensearch(store, batch)
        else:
            store.write_batch(batch)
        done += len(batch.alerts)
        print(f"\r… loaded {done}/{count} alerts", end="", flush=True)
    print()
    return time.perf_counter() - started


def _bulk_opensearch(store: Any, batch: StoredBatch) -> None:
    # The store's own builders; see the module docstring for why the audit is skipped here.
    store._bulk(store._alert_lines(batch))
    store._bulk(store._post_lines(batch))


def _timed(client: TestClient, urls: list[str]) -> list[float]:
    out = []
    for url in urls:
        t0 = time.perf_counter()
        response = client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return out


def bench_review(settings: Settings, alerts: int, backend: str, requests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="canhbao-bench-review-") as tmp:
        if backend == "opensearch":
            from alerting.store.opensearch import OpenSearchStore

            prefix = f"bench{int(time.time())}"
            store: AlertStore = OpenSearchStore.connect(
                settings.opensearch_url, prefix=prefix, audit_key=secrets.token_bytes(32)
            )
            store.ensure_indices()  # type: ignore[attr-defined]
        else:
            store = SQLiteStore(Path(tmp) / "bench.db", audit_key=secrets.token_bytes(32))
        try:
            load_s = _load(store, alerts, backend)
            if backend == "opensearch":
                store._client.indices.refresh(index=f"{prefix}-*")  # type: ignore[attr-defined]
            accounts = AccountStore(
                Path(tmp) / "accounts.db",
                hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
            )
            accounts.add_user("phantich", _PASSWORD, Role.ANALYST)
            app = create_app(store, accounts=accounts, destinations=settings.destinations)
            mount_review_ui(app, store, accounts, settings.destinations, secure_cookies=False)
            client = TestClient(app)
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            client.post(
                "/login",
                data={
                    "csrf_token": token.group(1),
                    "username": "phantich",
                    "password": _PASSWORD,
                    "next": "/queue",
                },
            )
            rng = random.Random(5)
            filters = [
                "",
                "label=hate",
                "severity=critical",
                "platform=tiktok",
                "label=spam&severity=high",
                "status=all",
                "label=misinformation&platform=facebook",
            ]
            _timed(client, ["/queue"] * 5)  # warm caches, as a working service would have
            queue = _timed(client, [f"/queue?{rng.choice(filters)}" for _ in range(requests)])
            deep: list[float] = []
            url = "/queue?status=all"
            for _ in range(min(requests, 40)):  # page after page, as an analyst scrolls on
                t0 = time.perf_counter()
                response = client.get(url)
                deep.append((time.perf_counter() - t0) * 1000)
                found = re.search(r'href="(/queue\?[^"]*cursor=[^"]+)" rel="next"', response.text)
                if not found:
                    break
                url = found.group(1).replace("&amp;", "&")
            search = _timed(
                client, [f"/queue?status=all&q={rng.choice(_SEARCHES)}" for _ in range(requests)]
            )
        finally:
            if backend == "opensearch":
                store._client.indices.delete(index=f"{prefix}-*")  # type: ignore[attr-defined]
            store.close()

    def p(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 1)

    print(f"{alerts} alerts on {backend}, loaded in {load_s:.0f} s; {requests} requests each:")
    print(f"  queue (random filters) p50 {p(queue, 50)} ms, p95 {p(queue, 95)} ms")
    print(
        f"  queue, page after page p50 {p(deep, 50)} ms, p95 {p(deep, 95)} ms ({len(deep)} pages)"
    )
    print(f"  word search            p50 {p(search, 50)} ms, p95 {p(search, 95)} ms")
    return {
        "alerts": float(alerts),
        "queue_p95_ms": p(queue, 95),
        "pages_p95_ms": p(deep, 95),
        "search_p95_ms": p(search, 95),
        "p95_ms": max(p(queue, 95), p(deep, 95), p(search, 95)),
    }
