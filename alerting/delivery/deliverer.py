"""The deliverer: confirmed decisions in the audit log → outbox → channels.

It reads the audit log (ordered, append-only: the natural outbox feed) from its cursor, and for
every `alert.confirmed` entry plans one delivery per destination the analyst chose: withheld if
no rule allows it, suppressed if the same story already went there within the window, held if
the destination is over its hourly cap (held ones leave together in one summary). Then it sends
what is due, retrying with backoff, and records each outcome in the audit log.

Exactly once, as far as the far side allows: a delivery id is planned once (outbox primary
key, moved with the cursor in one transaction), each channel is retried until it accepts, and
the id travels with the message so a receiver can drop a repeat after a lost acknowledgement.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge

from alerting.delivery.channels import Channel, SendFailed
from alerting.delivery.config import RoutingConfig
from alerting.delivery.outbox import DeliveryStatus, Outbox, PlannedDelivery, Send
from alerting.exceptions import AlertNotFound, DecisionConflict
from alerting.store import AlertQuery, AlertStore
from schemas import (
    AlertStatus,
    AnalystDecision,
    AuditAction,
    AuditEvent,
    DecisionAction,
    DeliveryMessage,
    delivery_id_for,
    utc_now,
)

__all__ = ["Deliverer", "DeliveryMetrics", "RoundReport"]

log = logging.getLogger(__name__)

ACTOR = "system:deliverer"
MAX_ATTEMPTS = 12  # with backoff capped at 30 min: about four hours of trying
_BACKOFF_BASE_S = 5.0
_BACKOFF_CAP_S = 1800.0


@dataclass
class RoundReport:
    planned: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    escalated: int = 0
    summaries: int = 0


class DeliveryMetrics:
    """Prometheus view of the deliverer: what each round did, and the outbox by status."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "canhbao_delivery_events", "Deliverer outcomes by kind", ["kind"], registry=r
        )
        self.outbox = Gauge(
            "canhbao_outbox_deliveries",
            "Deliveries in the outbox by status",
            ["status"],
            registry=r,
        )

    def observe(self, report: RoundReport, counts: Mapping[str, int]) -> None:
        for kind in ("planned", "sent", "retried", "failed", "escalated", "summaries"):
            self.events.labels(kind).inc(getattr(report, kind))
        for status in DeliveryStatus:
            self.outbox.labels(status.value).set(counts.get(status.value, 0))


@dataclass
class Deliverer:
    store: AlertStore
    outbox: Outbox
    config: RoutingConfig
    channels: Mapping[str, Sequence[Channel]]  # destination → its senders, in config order
    review_base_url: str | None = None
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def run_once(self) -> RoundReport:
        report = RoundReport()
        report.escalated = self.escalate_overdue()
        report.planned = self.plan()
        report.summaries = self.summarise_held()
        self.send_due(report)
        return report

    # -- planning ----------------------------------------------------------------------------

    def plan(self, batch: int = 500) -> int:
        planned_total = 0
        while True:
            cursor = self.outbox.audit_cursor
            events = self.store.audit_log(after_seq=cursor, limit=batch)
            if not events:
                return planned_total
            planned: list[PlannedDelivery] = []
            for event in events:
                if event.action is not AuditAction.ALERT_CONFIRMED:
                    continue
                # One event at a time: the next one's suppression and flood checks see this one.
                mine = self._plan_event(event)
                planned_total += self.outbox.record_plan(mine, event.seq, self.clock())
                planned += mine
            self.outbox.record_plan([], events[-1].seq, self.clock())
            for p in planned:
                if p.status is not DeliveryStatus.PENDING:
                    self.store.record_audit(
                        ACTOR,
                        AuditAction.DELIVERY_WITHHELD,
                        p.message["alert_ids"][0],
                        p.note,
                        {
                            "destination": p.destination,
                            "delivery_id": p.delivery_id,
                            "status": p.status.value,
                        },
                    )

    def _plan_event(self, event: AuditEvent) -> list[PlannedDelivery]:
        try:
            detail = self.store.get_alert(event.target)
        except AlertNotFound:
            log.error("confirmed alert is missing", extra={"alert_id": event.target})
            return []
        decision = next(
            (d for d in reversed(detail.decisions) if d.action is DecisionAction.CONFIRM), None
        )
        if decision is None:
            return []
        alert, post = detail.alert, detail.post
        permitted = self.config.permitted(alert, post.raw.platform, decision.category)
        now = self.clock()
        out = []
        for destination in decision.destinations:
            delivery_id = delivery_id_for(alert.alert_id, destination)
            message = DeliveryMessage(
                delivery_id=delivery_id,
                destination=destination,
                alert_ids=[alert.alert_id],
                category=decision.category,
                labels=alert.labels,
                severity=alert.severity,
                platform=post.raw.platform,
                post_kind=post.raw.kind,
                url=post.raw.url,
                excerpt=post.text[:1000],
                published_at=post.raw.published_at,
                reason=decision.reason,
                fact_check_url=decision.fact_check_url,
                decided_at=decision.decided_at,
                review_url=f"{self.review_base_url}/alerts/{alert.alert_id}"
                if self.review_base_url
                else None,
            )
            status, note = DeliveryStatus.PENDING, None
            earlier = self.outbox.story_sent_since(
                destination, alert.cluster_id, now - self.config.suppression.window_s
            )
            if destination not in self.config.destinations or destination not in permitted:
                status, note = DeliveryStatus.NOT_ROUTED, "no routing rule sends this alert here"
            elif earlier is not None:
                status, note = DeliveryStatus.SUPPRESSED, f"story already sent as {earlier}"
            elif self.outbox.sent_since(destination, now - 3600) >= self.config.flood.max_per_hour:
                status, note = DeliveryStatus.HELD, "over the hourly cap: in the next summary"
            channels = len(self.channels.get(destination, []))
            out.append(
                PlannedDelivery(
                    delivery_id,
                    destination,
                    alert.cluster_id,
                    status,
                    note,
                    message.model_dump(mode="json"),
                    channels,
                )
            )
        return out

    def summarise_held(self) -> int:
        """Held alerts leave as one summary per destination once the cap has room again."""
        now = self.clock()
        made = 0
        for destination in self.config.destinations:
            held = self.outbox.held(destination)
            if (
                not held
                or self.outbox.sent_since(destination, now - 3600) >= self.config.flood.max_per_hour
            ):
                continue
            ids = [m["alert_ids"][0] for _, m in held]
            summary_id = f"dl_summary_{destination}_{int(now)}"
            message = DeliveryMessage(
                kind="summary",
                delivery_id=summary_id,
                destination=destination,
                alert_ids=ids,
                excerpt="\n".join(f"- {m['url']}: {m['excerpt'][:120]}" for _, m in held)[:1000],
                reason=f"{len(ids)} cảnh báo đã xác nhận vượt ngưỡng gửi mỗi giờ",
                decided_at=utc_now(),
            )
            planned = PlannedDelivery(
                summary_id,
                destination,
                f"summary:{int(now)}",
                DeliveryStatus.PENDING,
                None,
                message.model_dump(mode="json"),
                len(self.channels.get(destination, [])),
            )
            self.outbox.record_plan([planned], self.outbox.audit_cursor, now)
            self.outbox.release_held([d for d, _ in held], summary_id)
            made += 1
        return made

    # -- sending -----------------------------------------------------------------------------

    def _backoff(self, attempts: int) -> float:
        ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempts)
        return float(self.rng.uniform(0.5, 1.0) * ceiling)

    def send_due(self, report: RoundReport) -> None:
        for send in self.outbox.due(self.clock()):
            self._send(send, report)

    def _send(self, send: Send, report: RoundReport) -> None:
        message = DeliveryMessage.model_validate_json(json.dumps(send.message))
        channel = self.channels[send.destination][send.channel]
        try:
            channel.send(message)
        except SendFailed as exc:
            if exc.permanent or send.attempts + 1 >= MAX_ATTEMPTS:
                self.outbox.mark_failed(send, str(exc))
                report.failed += 1
                log.error(
                    "delivery failed", extra={"delivery_id": send.delivery_id, "error": str(exc)}
                )
                for alert_id in message.alert_ids:
                    self.store.record_audit(
                        ACTOR,
                        AuditAction.DELIVERY_FAILED,
                        alert_id,
                        str(exc),
                        {"destination": send.destination, "delivery_id": send.delivery_id},
                    )
            else:
                self.outbox.mark_retry(send, str(exc), self.clock() + self._backoff(send.attempts))
                report.retried += 1
                log.warning(
                    "delivery will be retried",
                    extra={"delivery_id": send.delivery_id, "error": str(exc)},
                )
            return
        report.sent += 1
        if self.outbox.mark_sent(send, self.clock()):
            for alert_id in message.alert_ids:
                self.store.record_audit(
                    ACTOR,
                    AuditAction.DELIVERY_SENT,
                    alert_id,
                    None,
                    {"destination": send.destination, "delivery_id": send.delivery_id},
                )

    # -- deadlines ---------------------------------------------------------------------------

    def escalate_overdue(self) -> int:
        """Pending alerts nobody reviewed within the deadline go to the supervisors' queue."""
        after = self.config.escalation.unreviewed_after_s
        if after is None:
            return 0
        cutoff = utc_now() - timedelta(seconds=after)
        hours = after / 3600
        escalated = 0
        page = self.store.list_alerts(
            AlertQuery(status=AlertStatus.PENDING, until=cutoff, limit=200)
        )
        for alert in page.alerts:
            decision = AnalystDecision(
                alert_id=alert.alert_id,
                action=DecisionAction.ESCALATE,
                analyst="system:deadline",
                reason=f"chưa được xem xét sau {hours:g} giờ",
                decided_at=utc_now(),
            )
            try:
                self.store.decide(decision, expected_version=alert.version)
                escalated += 1
            except DecisionConflict:
                continue  # an analyst got to it first: nothing to do
        return escalated
