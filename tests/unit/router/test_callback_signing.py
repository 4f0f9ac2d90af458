"""Signatures verify with standardwebhooks; rotation signs with both; secrets sealed at rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from handoff_router.callbacks.signing import (
    SecretBox,
    SecretsKeyMissing,
    new_secret,
    new_webhook_id,
    signed_headers,
)
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

BODY = b'{"specversion":"1.0","type":"lead.assigned","data":{"lead_id":"l1"}}'


def test_a_new_secret_is_whsec_and_verifies() -> None:
    secret = new_secret()
    assert secret.get_secret_value().startswith("whsec_")
    headers = signed_headers([secret], new_webhook_id(), datetime.now(UTC), BODY)
    assert Webhook(secret.get_secret_value()).verify(BODY, headers)["type"] == "lead.assigned"


def test_a_wrong_secret_fails() -> None:
    headers = signed_headers([new_secret()], "msg_1", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret().get_secret_value()).verify(BODY, headers)


def test_during_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([new, old], "msg_2", datetime.now(UTC), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret.get_secret_value()).verify(BODY, headers)


def test_a_changed_body_fails_verification() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "msg_3", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret.get_secret_value()).verify(BODY.replace(b"l1", b"l2"), headers)


def test_nothing_is_signed_without_a_secret() -> None:
    with pytest.raises(ValueError, match="unsigned"):
        signed_headers([], "msg_4", datetime.now(UTC), BODY)


def test_secrets_are_sealed_and_opened_with_the_key() -> None:
    box = SecretBox(SecretStr(Fernet.generate_key().decode()))
    secret = new_secret()
    sealed = box.seal(secret)
    assert secret.get_secret_value().encode() not in sealed
    assert box.open(sealed).get_secret_value() == secret.get_secret_value()
    other = SecretBox(SecretStr(Fernet.generate_key().decode()))
    with pytest.raises(SecretsKeyMissing):
        other.open(sealed)


def test_without_a_key_secrets_are_refused() -> None:
    box = SecretBox(SecretStr(""))
    assert not box.is_configured
    with pytest.raises(SecretsKeyMissing):
        box.seal(new_secret())


def test_a_secret_never_shows_in_a_repr() -> None:
    secret = new_secret()
    assert secret.get_secret_value() not in repr(secret)
    assert secret.get_secret_value() not in str([secret])


def test_the_secrets_key_rotates_a_new_key_seals_and_old_keys_still_open() -> None:
    """Issue 22 item 9: HANDOFF_CALLBACK_SECRETS_KEY is a comma-separated list, the first current."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = SecretBox(SecretStr(old))
    token = before.seal(SecretStr("whsec_old"))

    during = SecretBox(SecretStr(f"{new}, {old}"))
    assert during.open(token).get_secret_value() == "whsec_old"  # the old key still opens
    assert not during.is_current(token)
    resealed = during.reseal(token)
    assert during.is_current(resealed)
    assert during.is_current(during.seal(SecretStr("whsec_new")))  # the new key seals

    after = SecretBox(SecretStr(new))  # the old key dropped once every secret is resealed
    assert after.open(resealed).get_secret_value() == "whsec_old"
    with pytest.raises(SecretsKeyMissing):
        after.open(token)
