"""Secrets sealed at rest: callback signing secrets and intake source secrets are stored only
as Fernet tokens (AES-CBC + HMAC) under the key ``HANDOFF_CALLBACK_SECRETS_KEY``.

Plumbing of the router that several features use (callbacks, intake); no feature owns it.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SecretsKeyMissing(RuntimeError):
    """No ``HANDOFF_CALLBACK_SECRETS_KEY`` (or another one): secrets can be neither sealed nor opened."""


class SecretBox:
    """Encrypts secrets for the database and decrypts them to sign or verify.

    The key setting is one Fernet key or several, comma-separated: the first seals, every one
    opens (``MultiFernet``). Rotating is putting a new key first and keeping the old ones until
    every stored secret is sealed with the new one (``reseal``; docs/operations.md)."""

    def __init__(self, key: SecretStr) -> None:
        parts = [part.strip() for part in key.get_secret_value().split(",") if part.strip()]
        keys = [Fernet(part.encode()) for part in parts]
        self._fernet = MultiFernet(keys) if keys else None
        self._current = keys[0] if keys else None

    @property
    def is_configured(self) -> bool:
        """False when no key was set: issuing secrets is refused, deliveries wait."""
        return self._fernet is not None

    def seal(self, secret: SecretStr) -> bytes:
        """The secret as stored: a Fernet token, under the current (first) key."""
        return self._key().encrypt(secret.get_secret_value().encode())

    def open(self, token: bytes) -> SecretStr:
        """The secret back from its stored token, sealed under any configured key."""
        try:
            return SecretStr(self._key().decrypt(token).decode())
        except InvalidToken:
            raise SecretsKeyMissing("a stored secret does not open with any configured key") from None

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
        """A stored token sealed again with the current key; the secret is unchanged."""
        try:
            return self._key().rotate(token)
        except InvalidToken:
            raise SecretsKeyMissing("a stored secret does not open with any configured key") from None

    def _key(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsKeyMissing("HANDOFF_CALLBACK_SECRETS_KEY is not set")
        return self._fernet
