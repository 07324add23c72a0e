"""Configuration: one frozen settings object, from `CANHBAO_*` environment variables."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import MIN_KEY_BYTES
from schemas.exceptions import CanhbaoError

__all__ = [
    "Settings",
    "SettingsError",
    "load_audit_key",
    "load_intake_secrets",
    "load_pseudonym_key",
]


class SettingsError(CanhbaoError):
    """A setting, or a file it names, is unusable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANHBAO_", frozen=True, extra="ignore")

    data_dir: Path = Field(Path("var"), description="runtime data: store, keys, models")
    datasets_dir: Path = Field(Path("../shared/datasets"), description="labelled datasets")
    db_path: Path | None = Field(None, description="SQLite store; default DATA_DIR/canhbao.db")
    model_dir: Path | None = Field(
        None, description="baseline model; default DATA_DIR/models/baseline"
    )
    classifier: Literal["auto", "baseline", "hybrid", "transformer"] = Field(
        "auto",
        description=(
            "the model the pipeline runs: the n-gram baseline, the hybrid (baseline + sentence"
            " embeddings), or a fine-tuned transformer (PhoBERT or e5); auto: the hybrid where it"
            " is built, else the baseline"
        ),
    )
    embed: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "the embed stage (one sentence embedding per new post, stored for search): auto: on"
            " where the encoder is built or the classifier reads embeddings"
        ),
    )
    embed_max_tokens: int = Field(128, ge=8, le=510, description="embedding token budget")
    encoder_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8", description="where the sentence encoder runs"
    )
    transformer_model: str | None = Field(
        None,
        description="fine-tuned transformer folder or hub id; default DATA_DIR/models/transformer",
    )
    transformer_backend: Literal["torch", "int8", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="where the transformer runs (ONNX needs `canhbao transformer export`)",
    )
    transformer_threads: int | None = Field(None, ge=1, le=256, description="intra-op threads")
    store_backend: Literal["sqlite", "opensearch", "elasticsearch"] = Field(
        "sqlite", description="review store: embedded SQLite, or a search index"
    )
    opensearch_url: str = "http://127.0.0.1:9250"
    es_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch 8, if the backend")
    opensearch_timeout_s: float = Field(30.0, gt=0, description="per request, before a retry")
    index_prefix: str = Field("canhbao", pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = Field("canhbao", pattern=r"^[A-Za-z0-9._-]{1,60}$")
    topic_partitions: int = Field(6, ge=1, le=256)
    max_text_bytes: int = Field(100_000, ge=1_000)
    batch_size: int = Field(256, ge=1, le=10_000)
    dedup_capacity: int = Field(200_000, ge=1_000)
    dedup_min_jaccard: float = Field(0.6, gt=0.0, le=1.0)
    pseudonym_key: SecretStr | None = Field(
        None,
        description="HMAC key for author handles, ≥ 32 bytes; default: generated into DATA_DIR",
    )
    pseudonym_key_file: Path | None = Field(
        None, description="file holding the pseudonym key (a mounted secret)"
    )
    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key of the audit chain and its checkpoints, ≥ 32 bytes, kept apart"
        " from the store; default: generated into DATA_DIR",
    )
    audit_key_file: Path | None = Field(
        None, description="file holding the audit key (a mounted secret)"
    )
    audit_checkpoints: Path | None = Field(
        None,
        description="signed audit-head checkpoints (JSON lines), outside the store;"
        " default DATA_DIR/audit-checkpoints.jsonl",
    )
    destinations: tuple[str, ...] = ("cong_an", "so_tttt")
    routing_file: Path | None = Field(
        None, description="routing.yaml for delivery; default: the bundled one (Kafka topics)"
    )
    review_base_url: str | None = Field(
        None, description="public URL of the review UI, for links in deliveries"
    )
    review_claim_minutes: float = Field(
        15.0, gt=0, le=24 * 60, description="how long an analyst's claim on an alert lasts"
    )
    review_cookie_secure: bool = Field(
        True, description="Secure session cookies (keep on; browsers accept them on localhost)"
    )
    review_trusted_proxies: tuple[str, ...] = Field(
        (),
        description="addresses of reverse proxies whose X-Forwarded-For/-Proto are believed;"
        " empty (the default): forwarded headers are ignored",
    )
    sources_file: Path | None = Field(
        None, description="collector sources.yaml; default: the bundled starter list"
    )
    collector_db: Path | None = Field(
        None, description="collector checkpoints; default DATA_DIR/collector.db"
    )
    intake_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description='intake partner → HMAC secret, e.g. {"vtv": "…"}'
    )
    intake_secrets_file: Path | None = Field(
        None, description="JSON file of partner → HMAC secret (a mounted secret)"
    )
    log_level: str = "INFO"
    log_format: str = Field("json", pattern="^(json|text)$")

    @property
    def store_path(self) -> Path:
        return self.db_path or self.data_dir / "canhbao.db"

    @property
    def baseline_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models" / "baseline"

    @property
    def encoder_dir(self) -> Path:
        """The sentence encoder built by `canhbao models build-encoder`."""
        return self.data_dir / "models" / "encoder"

    @property
    def hybrid_dir(self) -> Path:
        """The hybrid model built by `canhbao train hybrid`."""
        return self.data_dir / "models" / "hybrid"

    @property
    def claims_db_path(self) -> Path:
        """The claim library (claims, versions, history)."""
        return self.data_dir / "claims.db"

    @property
    def claims_dir(self) -> Path:
        """The claim matcher fitted by `canhbao train claims`."""
        return self.data_dir / "models" / "claims"

    @property
    def transformer_ref(self) -> str:
        return self.transformer_model or str(self.data_dir / "models" / "transformer")

    @property
    def digests_dir(self) -> Path:
        return self.data_dir / "digests"

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.db"

    @property
    def audit_checkpoints_path(self) -> Path:
        return self.audit_checkpoints or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def collector_db_path(self) -> Path:
        return self.collector_db or self.data_dir / "collector.db"

    @property
    def collector_dead_letters_path(self) -> Path:
        return self.data_dir / "collector-dead-letters.jsonl"


def _string_map_file(path: Path, shape: str) -> dict[str, str]:
    """A mounted secret holding one JSON object of non-empty strings."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in loaded.items()
    ):
        raise SettingsError(f"{path}: expected {shape}")
    return loaded


def load_intake_secrets(settings: Settings) -> dict[str, bytes]:
    """Partner secrets from the environment and, if set, from the secret file (the file wins)."""
    secrets_ = {k: v.get_secret_value() for k, v in settings.intake_secrets.items()}
    if settings.intake_secrets_file is not None:
        secrets_.update(_string_map_file(settings.intake_secrets_file, "{partner: secret}"))
    short = sorted(p for p, v in secrets_.items() if len(v) < 16)
    if short:
        raise SettingsError(f"intake secrets must be at least 16 characters: {', '.join(short)}")
    return {partner: value.encode("utf-8") for partner, value in secrets_.items()}


def _secret_key(value: SecretStr | None, file: Path | None, generated: Path, setting: str) -> bytes:
    """A key from its setting, else its file setting, else one generated once into DATA_DIR
    (mode 0600) and reused after. Whatever the source, a key under `MIN_KEY_BYTES` is refused:
    an empty or short HMAC key makes pseudonyms reversible by guessing and the audit chain
    forgeable."""
    if value is not None:
        key, where = value.get_secret_value().strip().encode("utf-8"), setting
    elif file is not None:
        try:
            key, where = file.read_bytes().strip(), f"{setting}_FILE ({file})"
        except OSError as exc:
            raise SettingsError(f"{setting}_FILE: cannot read {file}: {exc.strerror}") from exc
    elif generated.exists():
        key, where = generated.read_bytes().strip(), f"{generated} (generated for {setting})"
    else:
        generated.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode("ascii")
        fd = os.open(generated, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(
            f"{where}: the key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}"
            " (make one with: python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


def load_pseudonym_key(settings: Settings) -> bytes:
    """The key of author pseudonyms. Reusing it matters: under a new key the same handle maps
    to a new reference."""
    return _secret_key(
        settings.pseudonym_key,
        settings.pseudonym_key_file,
        settings.data_dir / "pseudonym.key",
        "CANHBAO_PSEUDONYM_KEY",
    )


def load_audit_key(settings: Settings) -> bytes:
    """The key of the audit chain: deployments mount it as a secret that the store's
    administrators do not hold."""
    return _secret_key(
        settings.audit_key,
        settings.audit_key_file,
        settings.data_dir / "audit.key",
        "CANHBAO_AUDIT_KEY",
    )


# Read by name elsewhere, not fields of `Settings`.
_OTHER_VARIABLES = frozenset(
    {"CANHBAO_PSEUDONYM_KEY", "CANHBAO_PSEUDONYM_KEY_FILE", "CANHBAO_AUDIT_KEY",
     "CANHBAO_AUDIT_KEY_FILE", "CANHBAO_STACK_DIR", "CANHBAO_VNCORENLP_DIR",
     "CANHBAO_INTAKE_SECRETS", "CANHBAO_INTAKE_SECRETS_FILE"}
)  # fmt: skip


def known_variables() -> frozenset[str]:
    prefix = str(Settings.model_config.get("env_prefix", "CANHBAO_"))
    return frozenset(f"{prefix}{name}".upper() for name in Settings.model_fields) | _OTHER_VARIABLES


def misspelt_variables(environ: Mapping[str, str]) -> list[str]:
    """`CANHBAO_*` variables that are no setting but close to one (a typo is otherwise silently
    ignored). Names far from every setting are left alone: routing and source files name their
    own secrets (`env:CANHBAO_WEBHOOK_…`)."""
    import difflib

    known = known_variables()
    lines = []
    for name in sorted(environ):
        if not name.startswith("CANHBAO_") or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if close:
            lines.append(f"{name} is not a setting and is ignored: did you mean {close[0]}?")
    return lines


def settings_errors(exc: ValidationError) -> list[str]:
    """One line per bad variable: its name, what is wrong, and the value given."""
    prefix = str(Settings.model_config.get("env_prefix", "CANHBAO_"))
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        given = error.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        lines.append(f"{prefix}{field.upper()}: {error['msg']}{shown}")
    return lines
