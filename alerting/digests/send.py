"""Email a digest: the HTML as the message body, the PDF attached (SMTP, STARTTLS)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from pathlib import Path

from alerting.delivery.channels import send_mail
from alerting.delivery.config import DigestMail

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
    send_mail(mail.smtp, message, tls)
