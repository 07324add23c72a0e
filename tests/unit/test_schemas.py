"""Record contracts: strict, immutable, versioned, exportable."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import (
    CONTRACTS,
    AnalystDecision,
    Classification,
    DecisionAction,
    Label,
    RawPost,
    SkipReason,
    export_json_schemas,
    post_id_for,
)
from tests.conftest import raw_post

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_raw_post_is_frozen() -> None:
    post = RawPost.model_validate_json(json.dumps(raw_post()))
    with pytest.raises(ValidationError):
        post.text = "khác"  # type: ignore[misc]


def test_post_id_is_stable_and_platform_scoped() -> None:
    assert post_id_for("facebook", "1") == post_id_for("facebook", "1")
    assert post_id_for("facebook", "1") != post_id_for("youtube", "1")


def test_strict_types_do_not_coerce() -> None:
    with pytest.raises(ValidationError, match="engagement"):
        RawPost.model_validate_json(json.dumps(raw_post(engagement={"likes": "5"})))


def test_confirmation_needs_category_and_only_it_names_destinations() -> None:
    base = {
        "alert_id": "al_" + "0" * 32,
        "analyst": "lan",
        "reason": "đã xác minh",
        "decided_at": NOW,
    }
    with pytest.raises(ValidationError, match="category"):
        AnalystDecision(action=DecisionAction.CONFIRM, **base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="only a confirmation"):
        AnalystDecision(action=DecisionAction.DISMISS, destinations=["cong_an"], **base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="reason"):
        AnalystDecision(**{**base, "reason": "x"}, action=DecisionAction.DISMISS)  # type: ignore[arg-type]


def test_classification_checks_scores_and_skips() -> None:
    common = {"post_id": "0" * 32, "model": "m", "model_version": "1", "thresholds": {},
              "classified_at": NOW}  # fmt: skip
    with pytest.raises(ValidationError, match="outside"):
        Classification(scores={Label.HATE: 1.5}, labels=[], **common)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="skipped"):
        Classification(
            scores={Label.HATE: 0.9},
            labels=[Label.HATE],
            skipped=SkipReason.NO_TEXT,
            **common,  # type: ignore[arg-type]
        )


def test_no_label_for_political_opinion() -> None:
    assert {label.value for label in Label} == {
        "misinformation", "hate", "offensive", "toxic", "clickbait", "spam"
    }  # fmt: skip


def test_json_schema_export(tmp_path: Path) -> None:
    paths = export_json_schemas(tmp_path)
    assert {p.name for p in paths} == {f"{name}.v1.schema.json" for name in CONTRACTS}
    raw = json.loads((tmp_path / "raw_post.v1.schema.json").read_text(encoding="utf-8"))
    assert {"platform", "external_id", "url", "text", "collected_at"} <= set(raw["required"])
    assert raw["additionalProperties"] is False


@pytest.mark.parametrize(
    "package",
    ["schemas", "ingest", "ingest.news", "ingest.social", "classifiers", "classifiers.text",
     "classifiers.baseline",
     "stream_jobs", "stream_jobs.backends", "alerting", "alerting.store"],
)  # fmt: skip
def test_exported_members_exist(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name}"


def test_a_dead_letter_is_bounded_for_the_bus_with_size_and_hash() -> None:
    import hashlib

    from schemas import DeadLetter, RejectReason, utc_now

    original = "chữ ".encode() * 200_000
    letter = DeadLetter(
        stage="parse",
        reason_code=RejectReason.TEXT_TOO_LARGE,
        reason="too large",
        origin="f.jsonl:1",
        original_b64=DeadLetter.encode(original),
        at=utc_now(),
    )
    small = letter.bounded(1000)
    assert small.truncated
    assert small.original == original[:1000]
    assert small.original_size == len(original)
    assert small.original_sha256 == hashlib.sha256(original).hexdigest()
    assert letter.bounded(len(original)) is letter  # fits already: unchanged
