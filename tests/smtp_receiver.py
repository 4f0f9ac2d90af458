"""A real SMTP server on loopback (aiosmtpd) that keeps every message; it can be stopped (the
port refuses connections) and started again on the same port."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.callback_receiver import _free_port


class _Keep:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.inbox.append(message_from_bytes(content, policy=policy.default))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    def __init__(self) -> None:
        self.port = _free_port()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpReceiver:
        self._controller = Controller(_Keep(self.messages), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in str(message["To"])]

    @staticmethod
    def parts(message: EmailMessage) -> dict[str, Any]:
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        return {
            "text": plain.get_content() if plain is not None else "",
            "html": html.get_content() if html is not None else "",
        }
