"""Sends a kept e-mail through ``HANDOFF_SMTP_URL`` (``smtp://host:port``, ``smtps://`` for TLS,
``smtp://user:password@host:port`` to log in), answering in HTTP terms for the delivery queue:
accepted 250, refused 4xx/5xx as the server said, no server (down, timeout) no status.

The standard library's client runs in a worker thread, one connection per message.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email import message_from_bytes
from email.message import Message
from urllib.parse import unquote, urlsplit

from handoff_router.channels import ChannelAnswer

EXCERPT_CHARS = 300


class MailSender:
    """One SMTP conversation per message."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"HANDOFF_SMTP_URL must be smtp://host:port or smtps://host:port, not {url!r}")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    async def send(self, body: bytes) -> ChannelAnswer:
        return await asyncio.to_thread(self._send, message_from_bytes(body))

    def _send(self, message: Message) -> ChannelAnswer:
        try:
            with self._connect() as client:
                if self.user is not None:
                    client.login(self.user, self.password or "")
                refused = client.send_message(message)
        except smtplib.SMTPResponseException as error:  # the server answered with a refusal
            status = 503 if 400 <= error.smtp_code < 500 else 422
            return ChannelAnswer(status, f"smtp_{error.smtp_code}", None, _text(error.smtp_error))
        except smtplib.SMTPRecipientsRefused as error:
            return ChannelAnswer(422, "smtp_recipients_refused", None, str(error.recipients)[:EXCERPT_CHARS])
        except (smtplib.SMTPException, OSError) as error:  # no server, a timeout, a dropped line
            return ChannelAnswer(None, type(error).__name__, None, str(error)[:EXCERPT_CHARS])
        if refused:
            return ChannelAnswer(422, "smtp_recipients_refused", None, str(refused)[:EXCERPT_CHARS])
        return ChannelAnswer(200, None, None, "250 accepted")  # delivered, in HTTP terms

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    async def close(self) -> None:
        return None


def _text(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return text[:EXCERPT_CHARS]
