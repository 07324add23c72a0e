"""`routing.yaml`: where confirmed alerts may go, how, and the brakes on the way.

    destinations:            # name → channels (one or more: kafka, webhook, email)
      cong_an:
        channels:
          - {type: kafka}                                   # topic <prefix>.dest.cong_an
          - {type: webhook, url: "https://…", secret: env:CANHBAO_WEBHOOK_CONG_AN}
    rules:                   # label × severity × platform × confirmed category → destinations
      - {categories: [hate], min_severity: high, destinations: [cong_an, so_tttt]}
    suppression: {window: 24h}              # one delivery per story per destination per window
    flood: {max_per_hour: 30}               # per destination; beyond it, one summary message
    escalation: {unreviewed_after: 6h}      # pending alerts older than this go to supervisors

Only alerts an analyst confirmed, to destinations the analyst chose, are ever delivered; the
rules narrow that choice (a destination no rule allows for the alert is not delivered to, and
the outbox says why). No setting sends anything without a confirmation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerting.exceptions import AlertingError
from ingest.sources import parse_interval
from schemas import Alert, Label, Platform, Severity

__all__ = [
    "Destination",
    "DigestMail",
    "EmailChannel",
    "KafkaChannel",
    "RoutingConfig",
    "RoutingError",
    "Rule",
    "WebhookChannel",
    "load_routing",
]

_SECRET_REF = r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$"  # noqa: S105  # a pattern, not a secret


class RoutingError(AlertingError):
    """routing.yaml is unusable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaChannel(_Strict):
    type: Literal["kafka"]


class WebhookChannel(_Strict):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://\S+$")
    secret: str = Field(pattern=_SECRET_REF, description="HMAC key reference, never the key")
    timeout_s: float = Field(10.0, gt=0)
    allow_internal: bool = Field(
        False, description="the receiver is on a loopback/private address (an agency intranet)"
    )


class SmtpServer(_Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: str | None = Field(None, pattern=_SECRET_REF)
    timeout_s: float = Field(20.0, gt=0)


class EmailChannel(_Strict):
    type: Literal["email"]
    to: tuple[str, ...] = Field(min_length=1)
    sender: str = Field(alias="from")
    smtp: SmtpServer


class DigestMail(_Strict):
    """Who receives the digests, and through which server."""

    to: tuple[str, ...] = Field(min_length=1)
    sender: str = Field(alias="from")
    smtp: SmtpServer


Channel = Annotated[KafkaChannel | WebhookChannel | EmailChannel, Field(discriminator="type")]


class Destination(_Strict):
    display_name: str | None = None
    channels: tuple[Channel, ...] = Field(min_length=1)


class Rule(_Strict):
    labels: tuple[Label, ...] = ()  # any of these among the alert's labels; empty: any
    categories: tuple[Label, ...] = ()  # the analyst's confirmed category; empty: any
    min_severity: Severity = Severity.LOW
    platforms: tuple[Platform, ...] = ()  # empty: any
    destinations: tuple[str, ...] = Field(min_length=1)

    def matches(self, alert: Alert, platform: Platform | None, category: Label | None) -> bool:
        return (
            (not self.labels or any(label in self.labels for label in alert.labels))
            and (not self.categories or category in self.categories)
            and alert.severity.rank >= self.min_severity.rank
            and (not self.platforms or platform in self.platforms)
        )


def _seconds(value: object) -> float:
    return parse_interval(value)


class Suppression(_Strict):
    window_s: float = Field(24 * 3600.0, alias="window")

    @field_validator("window_s", mode="before")
    @classmethod
    def _parse(cls, value: object) -> float:
        return _seconds(value)


class Flood(_Strict):
    max_per_hour: int = Field(30, ge=1)


class Escalation(_Strict):
    unreviewed_after_s: float | None = Field(6 * 3600.0, alias="unreviewed_after")

    @field_validator("unreviewed_after_s", mode="before")
    @classmethod
    def _parse(cls, value: object) -> float | None:
        return None if value in (None, "off") else _seconds(value)


class RoutingConfig(_Strict):
    destinations: dict[str, Destination]
    rules: tuple[Rule, ...] = Field(min_length=1)
    suppression: Suppression = Suppression()
    flood: Flood = Flood()
    escalation: Escalation = Escalation()
    digests: DigestMail | None = None

    def permitted(
        self, alert: Alert, platform: Platform | None, category: Label | None
    ) -> set[str]:
        """Destinations the rules allow for this alert as confirmed."""
        return {
            d
            for rule in self.rules
            if rule.matches(alert, platform, category)
            for d in rule.destinations
        }


def load_routing(path: Path) -> RoutingConfig:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutingError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RoutingError(f"{path}: not valid YAML: {exc}") from exc
    try:
        config = RoutingConfig.model_validate(document)
    except ValidationError as exc:
        # every error at once: a deploy should not take one round trip per mistake
        lines = [
            f"{path}: {'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise RoutingError("\n".join(lines)) from exc
    unknown = {d for rule in config.rules for d in rule.destinations} - set(config.destinations)
    if unknown:
        raise RoutingError(f"{path}: rules name undefined destinations: {sorted(unknown)}")
    return config
