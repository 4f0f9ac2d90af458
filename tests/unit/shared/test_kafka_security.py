"""HANDOFF_KAFKA_* settings turn into the options of every aiokafka client; secrets stay hidden."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from handoff_shared.kafka import make_consumer, make_producer
from handoff_shared.kafka_security import KafkaSecurity
from handoff_shared.settings import ServiceSettings
from pydantic import ValidationError

URL = "postgresql+asyncpg://u:p@127.0.0.1:5432/handoff"


def settings(**values: object) -> ServiceSettings:
    return ServiceSettings(database_url=URL, **values)  # type: ignore[arg-type]


def test_plaintext_is_the_default_and_needs_nothing() -> None:
    assert settings().kafka_security.client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_gives_scram_credentials_and_a_verifying_tls_context() -> None:
    options = settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_username="handoff-router", kafka_sasl_password="pw"
    ).kafka_security.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("handoff-router", "pw")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_sasl_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="HANDOFF_KAFKA_SASL_USERNAME"):
        settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="go together"):
        settings(kafka_security_protocol="SSL", kafka_ssl_certfile=Path("/c.pem"))


def test_the_password_never_appears_in_a_repr() -> None:
    configured = settings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="hunter2"
    )
    assert "hunter2" not in repr(configured)
    assert "hunter2" not in repr(configured.kafka_security)


async def test_every_client_factory_takes_the_security_options() -> None:
    security = KafkaSecurity(protocol="SASL_PLAINTEXT", username="u", password="p")
    producer = make_producer("127.0.0.1:1", client_id="t", security=security)
    consumer = make_consumer(
        "127.0.0.1:1", group_id="g", topics=["t"], client_id="t", max_records=1, security=security
    )
    try:
        for client in (producer.client, consumer._client):
            assert client._security_protocol == "SASL_PLAINTEXT"
            assert client._sasl_mechanism == "SCRAM-SHA-512"
    finally:
        await producer.stop()
        await consumer.stop()


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_plain_postgres_uris_are_used_with_asyncpg(scheme: str) -> None:
    configured = ServiceSettings(database_url=f"{scheme}app:pw@handoff-db-rw:5432/handoff")
    assert (
        configured.database_url.get_secret_value() == "postgresql+asyncpg://app:pw@handoff-db-rw:5432/handoff"
    )
