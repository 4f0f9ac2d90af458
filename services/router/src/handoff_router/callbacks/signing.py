"""Standard Webhooks signatures, and callback secrets encrypted at rest.

A delivery keeps one ``webhook-id`` and one body across all its tries; each try gets its
own ``webhook-timestamp`` and is signed with every secret of the endpoint that is still
valid (the new one, and during a rotation's grace period the old one too), the
signatures separated by spaces as the spec allows. Secrets are ``whsec_<base64>``,
issued once, stored only as Fernet tokens under a key from the settings, and never
logged: ``SecretStr`` keeps them out of reprs and the log redaction drops ``secret`` keys.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretsKeyMissing(RuntimeError):
    """No ``HANDOFF_CALLBACK_SECRETS_KEY``: secrets can be neither issued nor used."""


def new_secret() -> SecretStr:
    """A fresh signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SecretStr(SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode())


def new_webhook_id() -> str:
    """The ``webhook-id`` of a new delivery: stable across its retries."""
    return f"msg_{secrets.token_hex(12)}"


def signature_header(
    signing_secrets: Sequence[SecretStr], webhook_id: str, timestamp: datetime, body: bytes
) -> str:
    """``webhook-signature``: ``v1,<base64>`` for each secret, separated by spaces."""
    if not signing_secrets:
        raise ValueError("a callback is never sent unsigned")
    text = body.decode()
    return " ".join(
        Webhook(secret.get_secret_value()).sign(webhook_id, timestamp.astimezone(UTC), text)
        for secret in signing_secrets
    )


def signed_headers(
    signing_secrets: Sequence[SecretStr], webhook_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """The headers of one try: id, timestamp (Unix seconds), signatures, JSON content type."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(signing_secrets, webhook_id, timestamp, body),
        "content-type": "application/cloudevents+json",
    }


class SecretBox:
    """Encrypts secrets for the database and decrypts them to sign (Fernet: AES-CBC + HMAC).

    The key setting is one Fernet key or several, comma-separated: the first seals, every one
    opens (``MultiFernet``). Rotating is putting a new key first and keeping the old ones
    until ``reseal`` has sealed every stored secret with the new key (docs/operations.md)."""

    def __init__(self, key: SecretStr) -> None:
        keys = [Fernet(part.strip().encode()) for part in key.get_secret_value().split(",") if part.strip()]
        self._fernet = MultiFernet(keys) if keys else None
        self._current = keys[0] if keys else None

    @property
    def is_configured(self) -> bool:
        """False when no key was set: issuing secrets is refused, deliveries wait."""
        return self._fernet is not None

    def seal(self, secret: SecretStr) -> bytes:
        """The secret as stored: a Fernet token."""
        return self._key().encrypt(secret.get_secret_value().encode())

    def open(self, token: bytes) -> SecretStr:
        """The secret back from its stored token."""
        try:
            return SecretStr(self._key().decrypt(token).decode())
        except InvalidToken:
            raise SecretsKeyMissing(
                "a stored callback secret does not open with the configured key"
            ) from None

    def is_current(self, token: bytes) -> bool:
        """Whether ``token`` was sealed with the current (first) key."""
        if self._current is None:
            return False
        try:
            self._current.decrypt(token)
        except InvalidToken:
            return False
        return True

    def reseal(self, token: bytes) -> bytes:
        """A stored token sealed again with the first (current) key; the secret is unchanged."""
        try:
            return self._key().rotate(token)
        except InvalidToken:
            raise SecretsKeyMissing(
                "a stored callback secret does not open with any configured key"
            ) from None

    def _key(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsKeyMissing("HANDOFF_CALLBACK_SECRETS_KEY is not set")
        return self._fernet
