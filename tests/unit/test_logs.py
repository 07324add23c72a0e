"""Structured logging: the search client's expected 409s are dropped, its other warnings kept."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator

import pytest

from canhbao.logs import configure_logging


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[_Kept]:
    configure_logging("INFO", "json")
    handler = _Kept()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})


def test_only_conflicts_are_dropped_from_the_search_clients_warnings(kept: _Kept) -> None:
    client = logging.getLogger("opensearch")
    client.warning("%s %s [status:%s request:%.3fs]", "PUT", "http://x/i/_create/1", 409, 0.01)
    client.warning("%s %s [status:%s request:%.3fs]", "POST", "http://x/_bulk", 503, 0.5)
    client.info("GET http://x/ [status:200 request:0.001s]")  # below the client's level
    messages = [r.getMessage() for r in kept.records if r.name == "opensearch"]
    assert messages == ["POST http://x/_bulk [status:503 request:0.500s]"]
