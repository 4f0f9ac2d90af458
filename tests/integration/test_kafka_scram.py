"""SASL/SCRAM-SHA-512 over TLS, end to end against the local broker's SCRAM listener: the user
is created with Kafka's own tool (kafka-configs), then the services' own client factories,
configured only through ``HANDOFF_KAFKA_*`` settings, create a topic, produce and consume."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from handoff_shared import kafka
from handoff_shared.settings import ServiceSettings

from tests.stack import ROOT, Stack, unique

pytestmark = pytest.mark.integration


def scram_listener() -> tuple[str, Path]:
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".run" / "stack.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return values["HANDOFF_KAFKA_SCRAM_BOOTSTRAP"], Path(values["HANDOFF_KAFKA_SCRAM_CAFILE"])


def create_scram_user(stack: Stack, name: str, password: str) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/stack/scram-user.sh"), name],
        input=password + "\n",
        env={**os.environ, "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def scram_settings(stack: Stack, user: str, password: str) -> ServiceSettings:
    bootstrap, cafile = scram_listener()
    return ServiceSettings(
        database_url=stack.database_url,
        kafka_bootstrap=bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=user,
        kafka_sasl_password=password,
        kafka_ssl_cafile=cafile,
    )


async def test_a_scram_user_produces_and_consumes_over_tls(stack: Stack) -> None:
    user, password = unique("scram-user"), secrets.token_hex(16)
    await asyncio.to_thread(create_scram_user, stack, user, password)
    settings = scram_settings(stack, user, password)
    security = settings.kafka_security
    topic = unique("scram-topic")

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **security.client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    assert await kafka.partitions_of(settings.kafka_bootstrap, topic, security=security) == [0]

    producer = kafka.make_producer(settings.kafka_bootstrap, client_id="scram-test", security=security)
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=b"lead-1", value=b"over SCRAM and TLS")
    finally:
        await producer.stop()

    consumer = kafka.make_consumer(
        settings.kafka_bootstrap,
        group_id=unique("scram-group"),
        topics=[topic],
        client_id="scram-test",
        max_records=10,
        security=security,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=15_000)
        records = [record for batch in batches.values() for record in batch]
        assert [(r.key, r.value) for r in records] == [(b"lead-1", b"over SCRAM and TLS")]
        await consumer.commit({TopicPartition(topic, 0): records[-1].offset + 1})
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(stack: Stack) -> None:
    user = unique("scram-user")
    await asyncio.to_thread(create_scram_user, stack, user, secrets.token_hex(16))
    settings = scram_settings(stack, user, "not-the-password")
    producer = kafka.make_producer(
        settings.kafka_bootstrap, client_id="scram-test", security=settings.kafka_security
    )
    with pytest.raises((KafkaError, OSError, TimeoutError)):
        await asyncio.wait_for(producer.start(), timeout=20)
    await producer.stop()
