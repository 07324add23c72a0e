"""Email a digest: the HTML as the message body, the PDF attached (SMTP, STARTTLS)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from alerting.delivery.channels import SendFailed
from alerting.delivery.config import DigestMail
from ingest.sources import resolve_credential
from schemas.exceptions import CanhbaoError

__all__ = ["send_digest"]


def send_digest(
    mail: DigestMail,
    subject: str,
    html: str,
    pdf: Path | None,
    tls: ssl.SSLContext | None = None,
) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    message.set_content("Bản tin tổng hợp cảnh báo ở dạng HTML và PDF đính kèm.")
    message.add_alternative(html, subtype="html")
    if pdf is not None:
        message.add_attachment(
            pdf.read_bytes(), maintype="application", subtype="pdf", filename=pdf.name
        )
    smtp = mail.smtp
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            client.ehlo()
            if smtp.starttls:
                client.starttls(context=tls or ssl.create_default_context())
                client.ehlo()
            if smtp.username and smtp.password:
                client.login(smtp.username, resolve_credential(smtp.password))
            client.send_message(message)
    except (OSError, smtplib.SMTPException, CanhbaoError) as exc:
        raise SendFailed(
            f"digest email via {smtp.host}:{smtp.port}: {exc!r}", permanent=False
        ) from exc
