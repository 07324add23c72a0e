"""Structured logging: one JSON object per line on stderr (or plain text for humans).

One `dictConfig` serves the CLI and the Faust worker (which would otherwise install its own
coloured format and drop the structured fields)."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

__all__ = ["ExpectedConflicts", "JsonFormatter", "configure_logging", "logging_config"]

_STANDARD = set(vars(logging.makeLogRecord({})))
# Client libraries log every request at INFO; their warnings and errors still come through.
_NOISY = ("opensearch", "kafka", "aiokafka", "urllib3")


class ExpectedConflicts(logging.Filter):
    """Drops the search client's warning for a 409: the stores create documents by id and
    update with version checks, so a conflict is an answer they handle (a replayed batch, a
    racing analyst), not a fault — an ops engineer's warnings must not fill with them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "[status:409 " not in record.getMessage()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    level = level.upper()
    quiet = max(logging.WARNING, logging.getLevelNamesMapping().get(level, logging.INFO))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": "%(levelname)s %(name)s: %(message)s"},
        },
        "filters": {"expected_conflicts": {"()": ExpectedConflicts}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            name: {"level": logging.getLevelName(quiet)}
            | ({"filters": ["expected_conflicts"]} if name == "opensearch" else {})
            for name in _NOISY
        },
    }


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
