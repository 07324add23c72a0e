"""Delivery of analyst-confirmed alerts to the agencies' queues (Kafka, webhook, email), with
routing rules, repeat suppression, flood control and deadline escalation (`routing.yaml`)."""

from collections.abc import Callable

from alerting.delivery.channels import (
    Channel,
    EmailSender,
    KafkaSender,
    SendFailed,
    WebhookSender,
)
from alerting.delivery.config import (
    EmailChannel,
    KafkaChannel,
    RoutingConfig,
    RoutingError,
    WebhookChannel,
    load_routing,
)
from alerting.delivery.deliverer import Deliverer, DeliveryMetrics, RoundReport
from alerting.delivery.outbox import DeliveryStatus, Outbox
from stream_jobs.backends.abstract import Producer

__all__ = [
    "Channel",
    "Deliverer",
    "DeliveryMetrics",
    "DeliveryStatus",
    "EmailSender",
    "KafkaSender",
    "Outbox",
    "RoundReport",
    "RoutingConfig",
    "RoutingError",
    "SendFailed",
    "WebhookSender",
    "build_channels",
    "load_routing",
]


def build_channels(
    config: RoutingConfig,
    producer: Callable[[], Producer],
    topic_for: Callable[[str], str],
) -> dict[str, list[Channel]]:
    """One sender per configured channel; the Kafka producer is made only if a channel uses it."""
    made: Producer | None = None
    channels: dict[str, list[Channel]] = {}
    for name, destination in config.destinations.items():
        senders: list[Channel] = []
        for spec in destination.channels:
            if isinstance(spec, KafkaChannel):
                made = made or producer()
                senders.append(KafkaSender(made, topic_for(name)))
            elif isinstance(spec, WebhookChannel):
                senders.append(WebhookSender(spec))
            elif isinstance(spec, EmailChannel):
                senders.append(EmailSender(spec))
        channels[name] = senders
    return channels
