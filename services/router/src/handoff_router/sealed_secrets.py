"""Secrets sealed at rest: callback signing secrets and intake source secrets are stored only
as Fernet tokens (AES-CBC + HMAC) under the key ``HANDOFF_CALLBACK_SECRETS_KEY``.

Plumbing of the router that several features use (callbacks, intake); no feature owns it.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr


class SecretsKeyMissing(RuntimeError):
    """No ``HANDOFF_CALLBACK_SECRETS_KEY`` (or another one): secrets can be neither sealed nor opened."""


class SecretBox:
    """Encrypts secrets for the database and decrypts them to sign or verify."""

    def __init__(self, key: SecretStr) -> None:
        raw = key.get_secret_value()
        self._fernet = Fernet(raw.encode()) if raw else None

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
            raise SecretsKeyMissing("a stored secret does not open with the configured key") from None

    def _key(self) -> Fernet:
        if self._fernet is None:
            raise SecretsKeyMissing("HANDOFF_CALLBACK_SECRETS_KEY is not set")
        return self._fernet
