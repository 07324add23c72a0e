"""JSON Schema export of every contract, for consumers in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from schemas._base import Contract
from schemas.alerts import Alert, AnalystDecision
from schemas.audit import AuditEvent
from schemas.claims import Claim
from schemas.classification import Classification
from schemas.deadletter import DeadLetter
from schemas.delivery import DeliveryMessage
from schemas.posts import ClassifiedPost, NormalizedPost, RawPost

__all__ = ["CONTRACTS", "export_json_schemas"]

CONTRACTS: dict[str, type[Contract]] = {
    "raw_post": RawPost,
    "normalized_post": NormalizedPost,
    "classification": Classification,
    "classified_post": ClassifiedPost,
    "alert": Alert,
    "analyst_decision": AnalystDecision,
    "audit_event": AuditEvent,
    "dead_letter": DeadLetter,
    "delivery_message": DeliveryMessage,
    "claim": Claim,
}


def export_json_schemas(directory: Path) -> list[Path]:
    """Write `<name>.v1.schema.json` for each contract; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in CONTRACTS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://canhbao.invalid/schemas/{name}.v1.schema.json"
        path = directory / f"{name}.v1.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
