"""Index settings and mappings shared by the OpenSearch and Elasticsearch 8 backends.

Vietnamese-aware analysis: the standard tokenizer splits on spaces and punctuation (Vietnamese
writes one syllable per token), lowercase, then asciifolding with the original kept, so "Hà Nội"
is indexed as both `hà nội` and `ha noi` and matches either spelling. Filters use keyword fields;
dates are UTC.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INDEX_SETTINGS", "MAPPINGS"]

INDEX_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,  # one node locally; production sets replicas per cluster size
    "analysis": {
        "filter": {"vi_ascii": {"type": "asciifolding", "preserve_original": True}},
        "analyzer": {
            "vi_folded": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "vi_ascii"],
            }
        },
    },
}

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_STORED_ONLY = {"type": "object", "enabled": False}  # kept in _source, never indexed
_TEXT = {"type": "text", "analyzer": "vi_folded"}

MAPPINGS: dict[str, dict[str, Any]] = {
    "posts": {
        "dynamic": "strict",
        "properties": {
            "post_id": _KEYWORD,
            "platform": _KEYWORD,
            "kind": _KEYWORD,
            "source_id": _KEYWORD,
            "url": _KEYWORD,
            "language": _KEYWORD,
            "content_hash": _KEYWORD,
            "cluster_id": _KEYWORD,
            "duplicate_of": _KEYWORD,
            "duplicate_kind": _KEYWORD,
            "collected_at": _DATE,
            "title": _TEXT,
            "text": _TEXT,
            "labels": _KEYWORD,
            "claim_ids": _KEYWORD,  # known false claims it repeated: reappearance counts
            "signature": {"type": "binary"},
            "dedup_bands": _KEYWORD,  # hex MinHash bands: another worker's lookup on a miss
            # The embed stage's vector (float16 bytes) and its encoder; kept, not yet searched.
            "embedding": {"type": "binary"},
            "embedding_model": _KEYWORD,
            "record": _STORED_ONLY,
            "classification": _STORED_ONLY,
        },
    },
    "alerts": {
        "dynamic": "strict",
        "properties": {
            "alert_id": _KEYWORD,
            "post_id": _KEYWORD,
            "status": _KEYWORD,
            "severity": _KEYWORD,
            "severity_rank": {"type": "integer"},
            "platform": _KEYWORD,
            "cluster_id": _KEYWORD,
            "labels": _KEYWORD,
            "created_at": _DATE,
            "version": {"type": "integer"},
            "created_audited": {"type": "boolean"},  # no longer written; kept: mappings only grow
            "text": _TEXT,  # the post's title and text, so the queue can search by words
            "assignee": _KEYWORD,
            "claimed_until": _DATE,
            "record": _STORED_ONLY,
        },
    },
    "decisions": {
        "dynamic": "strict",
        "properties": {
            "alert_id": _KEYWORD,
            "action": _KEYWORD,
            "analyst": _KEYWORD,
            "decided_at": _DATE,
            "record": _STORED_ONLY,
        },
    },
    "audit": {
        "dynamic": "strict",
        "properties": {
            "seq": {"type": "long"},
            "at": _DATE,
            "actor": _KEYWORD,
            "action": _KEYWORD,
            "target": _KEYWORD,
            "reason": {"type": "text"},
            "details": _STORED_ONLY,
            "prev_hash": _KEYWORD,
            "hash": _KEYWORD,
        },
    },
    "audit_head": {
        "dynamic": "strict",
        # `pending`: the entries this head was moved over, until they are all in `audit`.
        "properties": {"seq": {"type": "long"}, "hash": _KEYWORD, "pending": _STORED_ONLY},
    },
    "deadletters": {
        "dynamic": "strict",
        "properties": {
            "at": _DATE,
            "reason_code": _KEYWORD,
            "origin": _KEYWORD,
            "record": _STORED_ONLY,
        },
    },
}
