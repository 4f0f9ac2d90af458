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

from pydantic import SecretStr
from standardwebhooks import Webhook

from handoff_router.sealed_secrets import SecretBox as SecretBox  # re-exported
from handoff_router.sealed_secrets import SecretsKeyMissing as SecretsKeyMissing  # re-exported

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


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
