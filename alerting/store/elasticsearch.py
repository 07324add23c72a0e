"""The Elasticsearch 8 review store: the OpenSearch store's logic over the `elasticsearch` 8.x
client (9.x refuses 8.x servers).

Both engines take the same mappings, queries, optimistic-concurrency parameters and bulk format
(`alerting/store/search_schema.py`); only the client libraries differ. `_Elasticsearch8` speaks
the few calls the store makes in the shape the OpenSearch store expects, and maps the client's
errors onto the ones it handles. Tested against a real server only where one is reachable
(`CANHBAO_ES_URL`): no Elasticsearch 8 distribution can be fetched on our build machines.
"""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch import ConflictError as EsConflict
from opensearchpy.exceptions import ConflictError, OpenSearchException

from alerting.store.opensearch import OpenSearchStore

__all__ = ["ElasticsearchStore"]


def _translated(fn: Any, **kwargs: Any) -> Any:
    """Call the ES client; raise the errors the OpenSearch store handles."""
    try:
        return fn(**kwargs)
    except EsConflict as exc:
        raise ConflictError(409, "version_conflict_engine_exception", str(exc)) from exc
    except (ApiError, TransportError) as exc:
        raise OpenSearchException(str(exc)) from exc


class _Indices:
    def __init__(self, client: Elasticsearch) -> None:
        self._client = client

    def exists(self, index: str) -> bool:
        return bool(_translated(self._client.indices.exists, index=index))

    def create(self, index: str, body: dict[str, Any]) -> Any:
        return _translated(
            self._client.indices.create,
            index=index,
            settings=body["settings"],
            mappings=body["mappings"],
        )

    def refresh(self, index: str) -> Any:
        return _translated(self._client.indices.refresh, index=index)

    def delete(self, index: str, ignore_unavailable: bool = False) -> Any:
        return _translated(
            self._client.indices.delete, index=index, ignore_unavailable=ignore_unavailable
        )


class _Elasticsearch8:
    """The subset of opensearch-py's client API that OpenSearchStore uses, on ES 8."""

    def __init__(self, client: Elasticsearch) -> None:
        self._client = client
        self.indices = _Indices(client)

    def _call(self, fn: Any, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = _translated(fn, **kwargs).body
        return body

    def get(self, index: str, id: str, ignore: int | None = None) -> dict[str, Any]:
        client = self._client.options(ignore_status=ignore) if ignore else self._client
        return self._call(client.get, index=index, id=id)

    def index(self, index: str, id: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        return self._call(self._client.index, index=index, id=id, document=body, **params)

    def update(self, index: str, id: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        return self._call(self._client.update, index=index, id=id, doc=body["doc"], **params)

    def bulk(self, body: str, refresh: str = "false") -> dict[str, Any]:
        operations = [json.loads(line) for line in body.splitlines() if line]
        return self._call(self._client.bulk, operations=operations, refresh=refresh)

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        params = dict(body)
        if "_source" in params:
            params["source"] = params.pop("_source")
        return self._call(self._client.search, index=index, **params)

    def count(self, index: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call(self._client.count, index=index, **(body or {}))

    def mget(
        self, index: str, body: dict[str, Any], _source_includes: list[str] | None = None
    ) -> dict[str, Any]:
        return self._call(
            self._client.mget, index=index, ids=body["ids"], source_includes=_source_includes
        )

    def close(self) -> None:
        self._client.close()


class ElasticsearchStore(OpenSearchStore):
    engine = "Elasticsearch"

    @classmethod
    def connect(
        cls,
        url: str,
        prefix: str = "canhbao",
        refresh: bool = False,
        timeout_s: float = 30.0,
        *,
        audit_key: bytes,
    ) -> ElasticsearchStore:
        client = Elasticsearch(url, request_timeout=timeout_s, max_retries=3, retry_on_timeout=True)
        return cls(
            _Elasticsearch8(client),  # type: ignore[arg-type]
            prefix=prefix,
            refresh=refresh,
            audit_key=audit_key,
        )
