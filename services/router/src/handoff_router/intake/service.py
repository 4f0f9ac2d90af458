"""Intake's use cases: authenticate a source's delivery, turn its records into ``mql.created``
events on the MQL topic (and what cannot become one into dead letters with the delivery's bytes),
and answer once Kafka has acknowledged every one. The router's MQL consumer then routes them
like any producer's events: one path validates, dedupes and dead-letters every MQL.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from handoff_shared import cloudevents, events
from handoff_shared.topics import DLQ_HEADERS
from pydantic import SecretStr

from handoff_router.context import RouterContext
from handoff_router.intake import metrics, repository
from handoff_router.intake.errors import (
    KafkaNotReady,
    NotAuthenticatedSource,
    SecretsUnavailable,
    UnknownSource,
)
from handoff_router.intake.presets import PRESETS, Preset
from handoff_router.intake.records import (
    Accepted,
    Filtered,
    Outcome,
    Refused,
    Unreadable,
    map_record,
    read_json,
    split,
)
from handoff_router.intake.signatures import BadSignature, check_body, check_headers
from handoff_router.routing.intake_sources import IntakeSource
from handoff_router.sealed_secrets import SecretBox, SecretsKeyMissing

log = structlog.get_logger(__name__)
INTAKE_STAGE = "intake"


@dataclass
class Report:
    """What a delivery became (CONTRACT §10's 202 answer)."""

    accepted: int = 0
    filtered: int = 0
    dead_lettered: int = 0
    event_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "filtered": self.filtered,
            "dead_lettered": self.dead_lettered,
            "event_ids": self.event_ids,
        }


@dataclass(frozen=True)
class Admitted:
    """A delivery whose headers passed: the source, its preset and secret, and whether the key
    header alone authenticated it (else the body's signature is still to be checked)."""

    source: IntakeSource
    preset: Preset
    secret: str
    by_key: bool


class Intake:
    """Sources' deliveries and admins' MQLs onto the MQL topic."""

    def __init__(self, context: RouterContext, producer: Callable[[], AIOKafkaProducer | None]) -> None:
        self.context = context
        self._producer = producer
        self._box = SecretBox(context.settings.callback_secrets_key)
        self._secrets: dict[str, tuple[float, str | None]] = {}

    async def admit(self, source_id: str, headers: Mapping[str, str]) -> Admitted:
        """The source and what its headers prove, before any of the body is read."""
        source = await self.source(source_id)
        preset = PRESETS[source.preset]
        secret = await self._secret(source_id)
        if secret is None:
            self._refused(source_id, "no_secret")
            raise NotAuthenticatedSource(
                f"no secret is set for intake source {source_id!r}: set one with"
                f" PUT or POST /v1/intake/sources/{source_id}/secret"
            )
        try:
            by_key = check_headers(preset.auth, headers, secret, self.context.clock())
        except BadSignature as error:
            self._refused(source_id, "headers")
            raise NotAuthenticatedSource(str(error)) from None
        return Admitted(source, preset, secret, by_key)

    def verify(
        self, admitted: Admitted, headers: Mapping[str, str], body: bytes, *, method: str, uri: str
    ) -> None:
        """Check the body's signature; NotAuthenticatedSource when it does not match."""
        if admitted.by_key:
            return
        try:
            check_body(admitted.preset.auth, headers, body, admitted.secret, method=method, uri=uri)
        except BadSignature as error:
            self._refused(admitted.source.id, "signature")
            raise NotAuthenticatedSource(str(error)) from None

    async def receive(self, admitted: Admitted, body: bytes) -> Report:
        """Map, normalise and validate each record; emit and dead-letter; answer once acknowledged."""
        source, preset = admitted.source, admitted.preset
        try:
            outcomes: list[Outcome] = [
                map_record(
                    index,
                    record,
                    source_id=source.id,
                    preset=preset,
                    when=source.compiled_when,
                    overrides=source.compiled_mapping,
                )
                for index, record in enumerate(split(preset, read_json(body)))
            ]
        except Unreadable as error:
            outcomes = [Refused(-1, error.error_class, error.message)]
        report = await self.emit(outcomes, body, f"intake/{source.id}", key=source.id)
        metrics.RECORDS.labels(source.id, "accepted").inc(report.accepted)
        metrics.RECORDS.labels(source.id, "filtered").inc(report.filtered)
        metrics.RECORDS.labels(source.id, "dead_lettered").inc(report.dead_lettered)
        return report

    async def emit(self, outcomes: Sequence[Outcome], body: bytes, origin: str, *, key: str) -> Report:
        """Produce the accepted records' events and one dead letter per refused record (the
        delivery's bytes, the reason in headers); wait until Kafka acknowledged them all."""
        producer = self._producer()
        if producer is None:
            raise KafkaNotReady("the router is not connected to Kafka yet; try again shortly")
        try:
            return await self._produce(producer, outcomes, body, origin, key=key)
        except KafkaError as error:  # the broker, not the delivery: the tool retries a 503
            log.warning("intake.kafka_failed", origin=origin, error=type(error).__name__)
            raise KafkaNotReady(
                f"Kafka did not take the events ({type(error).__name__}); try again"
            ) from None

    async def _produce(
        self, producer: AIOKafkaProducer, outcomes: Sequence[Outcome], body: bytes, origin: str, *, key: str
    ) -> Report:
        settings = self.context.settings
        report = Report()
        sent: list[asyncio.Future[Any]] = []
        now = self.context.clock()
        for outcome in outcomes:
            if isinstance(outcome, Filtered):
                report.filtered += 1
            elif isinstance(outcome, Accepted):
                value, headers = self.encode(outcome, origin, now)
                sent.append(
                    await producer.send(
                        settings.topic_mql_created,
                        value=value,
                        key=outcome.mql.lead_id.encode(),
                        headers=headers,
                    )
                )
                report.accepted += 1
                report.event_ids.append(outcome.event_id)
            else:
                sent.append(
                    await producer.send(
                        settings.topic_mql_created_dlq,
                        value=body,
                        key=key.encode(),
                        headers=dead_letter_headers(outcome, settings.topic_mql_created, origin),
                    )
                )
                report.dead_lettered += 1
                log.warning(
                    "intake.dead_letter", origin=origin, record=outcome.index, error=outcome.error_class
                )
        await asyncio.gather(*sent)
        return report

    def encode(self, accepted: Accepted, origin: str, now: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
        """The structured CloudEvent of an accepted record."""
        event = cloudevents.new_event(
            events.MQL_CREATED,
            f"{self.context.settings.event_source}/{origin}",
            accepted.mql.lead_id,
            accepted.mql,
            id=accepted.event_id,
            time=now,
        )
        return cloudevents.encode(event)

    async def source(self, source_id: str) -> IntakeSource:
        """The source of the active config; UnknownSource when there is none by that id."""
        async with self.context.sessions() as session:
            active = await self.context.configs.active(session)
        source = active.config.intake.source(source_id) if active and active.config.intake else None
        if source is None:
            raise UnknownSource(f"no intake source {source_id!r} in the active routing config")
        return source

    async def set_secret(self, source_id: str, secret: SecretStr) -> None:
        """Keep the secret the other system chose (HubSpot's client secret), sealed."""
        await self.source(source_id)
        try:
            sealed = self._box.seal(secret)
        except SecretsKeyMissing as error:
            raise SecretsUnavailable(str(error)) from None
        async with self.context.transaction() as session:
            await repository.store_secret(session, source_id, sealed, self.context.clock())
        self._secrets.pop(source_id, None)

    async def issue_secret(self, source_id: str) -> SecretStr:
        """A new ``whsec_`` secret for the source, answered once."""
        secret = SecretStr("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
        await self.set_secret(source_id, secret)
        return secret

    async def _secret(self, source_id: str) -> str | None:
        cached = self._secrets.get(source_id)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        async with self.context.sessions() as session:
            sealed = await repository.sealed_secret(session, source_id)
        try:
            secret = self._box.open(sealed).get_secret_value() if sealed is not None else None
        except SecretsKeyMissing as error:
            raise SecretsUnavailable(str(error)) from None
        ttl = self.context.settings.intake_secret_cache.total_seconds()
        self._secrets[source_id] = (time.monotonic() + ttl, secret)
        return secret

    def _refused(self, source_id: str, why: str) -> None:
        metrics.REFUSED.labels(source_id, why).inc()
        log.warning("intake.refused", source=source_id, why=why)


def dead_letter_headers(refused: Refused, topic: str, origin: str) -> list[tuple[str, bytes]]:
    """CONTRACT §1's dead-letter headers for a refused record; ``error.stage`` is ``intake``."""
    reason: Iterable[tuple[str, str]] = (
        (DLQ_HEADERS.error_class, refused.error_class),
        (DLQ_HEADERS.error_message, refused.message[:4000]),
        (DLQ_HEADERS.error_stage, INTAKE_STAGE),
        (DLQ_HEADERS.original_topic, topic),
        (DLQ_HEADERS.original_partition, "-1"),  # never on a topic: it came over HTTP
        (DLQ_HEADERS.original_offset, "-1"),
        (DLQ_HEADERS.error_service, "router"),
        ("intake.origin", origin),
        ("intake.record", str(refused.index)),
    )
    return [(name, value.encode()) for name, value in reason]
