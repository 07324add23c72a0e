"""How a delivery leaves: a Kafka topic per destination, a signed webhook, or email (SMTP with
STARTTLS). One real implementation per channel; each raises `SendFailed` saying whether a retry
can help (`permanent=False`: timeouts, 5xx, 429, broker down) or not (4xx, refused address)."""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx

from alerting.delivery.config import EmailChannel, SmtpServer, WebhookChannel
from alerting.exceptions import AlertingError
from ingest.egress import EgressPolicy, guarded_transport
from ingest.exceptions import EgressRefused
from ingest.sources import resolve_credential
from schemas import DeliveryMessage
from schemas.exceptions import CanhbaoError
from schemas.signing import sign
from stream_jobs.backends.abstract import Producer

__all__ = [
    "Channel",
    "EmailSender",
    "KafkaSender",
    "SendFailed",
    "WebhookSender",
    "render_email",
    "send_mail",
]

DELIVERY_HEADER = "X-Canhbao-Delivery"


class SendFailed(AlertingError):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    def send(self, message: DeliveryMessage) -> None:
        """Hand the message over; return once the other side accepted it, else `SendFailed`."""


class KafkaSender:
    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def send(self, message: DeliveryMessage) -> None:
        try:
            self._producer.produce(
                self._topic,
                message.model_dump_json().encode(),
                key=message.delivery_id.encode(),
                headers={"canhbao-schema": "delivery_message/1"},
            )
            self._producer.flush()
        except CanhbaoError as exc:
            raise SendFailed(f"Kafka {self._topic}: {exc}", permanent=False) from exc


class WebhookSender:
    """POST the message as JSON, signed like our intake expects partners to sign: the receiver
    checks `X-Canhbao-Signature` and drops repeats by `X-Canhbao-Delivery`."""

    def __init__(self, channel: WebhookChannel) -> None:
        self._channel = channel
        # Only a channel marked `allow_internal` may deliver to a non-public address.
        self._policy = EgressPolicy.allowing([channel.url] if channel.allow_internal else [])

    def send(self, message: DeliveryMessage) -> None:
        body = message.model_dump_json().encode()
        try:
            secret = resolve_credential(self._channel.secret).encode()
        except CanhbaoError as exc:
            raise SendFailed(str(exc), permanent=False) from exc  # fixable without losing it
        headers = {
            "Content-Type": "application/json",
            "X-Canhbao-Signature": sign(secret, body, int(time.time())),
            DELIVERY_HEADER: message.delivery_id,
        }
        try:
            # A client per send: deliveries are few, and nothing is left open between rounds.
            with httpx.Client(
                transport=guarded_transport(self._policy),
                timeout=self._channel.timeout_s,
                follow_redirects=False,
            ) as client:
                response = client.post(self._channel.url, content=body, headers=headers)
        except EgressRefused as exc:
            raise SendFailed(f"webhook {self._channel.url}: {exc}", permanent=True) from None
        except httpx.HTTPError as exc:
            raise SendFailed(f"webhook {self._channel.url}: {exc!r}", permanent=False) from exc
        if 200 <= response.status_code < 300:
            return
        retry = response.status_code >= 500 or response.status_code in (408, 429)
        raise SendFailed(
            f"webhook {self._channel.url}: HTTP {response.status_code}", permanent=not retry
        )


def render_email(message: DeliveryMessage, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """Plain text, Vietnamese, with the JSON attached for systems that file it."""
    mail = EmailMessage()
    category_name = message.category.value if message.category else "—"
    labels = ", ".join(label.value for label in message.labels)
    if message.kind == "summary":
        mail["Subject"] = f"[Cảnh báo] Tổng hợp {len(message.alert_ids)} cảnh báo đã xác nhận"
    else:
        category = message.category.value if message.category else labels
        mail["Subject"] = (
            f"[Cảnh báo] {category} — {message.severity.value if message.severity else ''}"
        )
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Message-ID"] = make_msgid(idstring=message.delivery_id, domain="canhbao.local")
    mail[DELIVERY_HEADER] = message.delivery_id
    lines = [
        "Cảnh báo đã được chuyên viên xem xét và xác nhận.",
        "",
        f"Mã chuyển: {message.delivery_id}",
        f"Loại: {category_name} (nhãn mô hình: {labels or '—'})",
        f"Mức độ: {message.severity.value if message.severity else '—'}",
        f"Nền tảng: {message.platform.value if message.platform else '—'}",
        f"Bài đăng công khai: {message.url or '—'}",
        f"Ghi chú của chuyên viên: {message.reason}",
    ]
    if message.fact_check_url:
        lines.append(f"Kiểm chứng / đính chính: {message.fact_check_url}")
    if message.review_url:
        lines.append(f"Xem trong hệ thống: {message.review_url}")
    lines += ["", "Trích đoạn:", message.excerpt]
    mail.set_content("\n".join(lines))
    mail.add_attachment(
        message.model_dump_json(indent=2).encode(),
        maintype="application",
        subtype="json",
        filename=f"{message.delivery_id}.json",
    )
    return mail


def send_mail(smtp: SmtpServer, mail: EmailMessage, tls: ssl.SSLContext | None = None) -> None:
    """Send one message (STARTTLS first when configured: it refuses to go on in clear);
    `SendFailed` says whether a retry can help."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            client.ehlo()
            if smtp.starttls:
                client.starttls(context=tls or ssl.create_default_context())
                client.ehlo()
            if smtp.username and smtp.password:
                client.login(smtp.username, resolve_credential(smtp.password))
            refused = client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendFailed(f"SMTP refused every recipient: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code != 554
        raise SendFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=permanent) from exc
    except (OSError, smtplib.SMTPException, CanhbaoError) as exc:
        raise SendFailed(f"SMTP {smtp.host}:{smtp.port}: {exc!r}", permanent=False) from exc
    if refused:
        raise SendFailed(f"SMTP refused some recipients: {sorted(refused)}", permanent=True)


class EmailSender:
    def __init__(self, channel: EmailChannel, tls: ssl.SSLContext | None = None) -> None:
        self._channel = channel
        self._tls = tls

    def send(self, message: DeliveryMessage) -> None:
        send_mail(
            self._channel.smtp,
            render_email(message, self._channel.sender, self._channel.to),
            self._tls,
        )
