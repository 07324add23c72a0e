"""Record contracts: every message and row that crosses a boundary is one of these models."""

from schemas._base import (
    BIDI_CONTROLS,
    Contract,
    UtcDatetime,
    show_bidi_controls,
    utc_now,
    utc_text,
)
from schemas.alerts import (
    DESTINATION_CONG_AN,
    DESTINATION_SO_TTTT,
    Alert,
    AlertStatus,
    AnalystDecision,
    DecisionAction,
    Destination,
    Severity,
)
from schemas.audit import (
    GENESIS_HASH,
    MIN_KEY_BYTES,
    AuditAction,
    AuditEvent,
    ChainBroken,
    chain_hash,
    verify_chain,
)
from schemas.claims import Claim, ClaimDraft, ClaimRating, ClaimStatus, Rebuttal
from schemas.classification import Classification, Evidence, EvidenceKind, Label, SkipReason
from schemas.deadletter import DeadLetter, RejectReason
from schemas.delivery import DeliveryMessage, delivery_id_for
from schemas.exceptions import CanhbaoError
from schemas.export import CONTRACTS, export_json_schemas
from schemas.identity import AUTHOR_REF_PATTERN, post_id_for, pseudonymise_handle
from schemas.posts import (
    ClassifiedPost,
    DuplicateKind,
    Engagement,
    NormalizedPost,
    Platform,
    PostKind,
    RawPost,
)

__all__ = [
    "AUTHOR_REF_PATTERN",
    "BIDI_CONTROLS",
    "CONTRACTS",
    "DESTINATION_CONG_AN",
    "DESTINATION_SO_TTTT",
    "GENESIS_HASH",
    "MIN_KEY_BYTES",
    "Alert",
    "AlertStatus",
    "AnalystDecision",
    "AuditAction",
    "AuditEvent",
    "CanhbaoError",
    "ChainBroken",
    "Claim",
    "ClaimDraft",
    "ClaimRating",
    "ClaimStatus",
    "Classification",
    "ClassifiedPost",
    "Contract",
    "DeadLetter",
    "DecisionAction",
    "DeliveryMessage",
    "Destination",
    "DuplicateKind",
    "Engagement",
    "Evidence",
    "EvidenceKind",
    "Label",
    "NormalizedPost",
    "Platform",
    "PostKind",
    "RawPost",
    "Rebuttal",
    "RejectReason",
    "Severity",
    "SkipReason",
    "UtcDatetime",
    "chain_hash",
    "delivery_id_for",
    "export_json_schemas",
    "post_id_for",
    "pseudonymise_handle",
    "show_bidi_controls",
    "utc_now",
    "utc_text",
    "verify_chain",
]
