"""Settings every service shares: read from the environment with the prefix ``HANDOFF_``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handoff_shared import topics
from handoff_shared.durations import parse_duration
from handoff_shared.kafka_security import KafkaSecurity, Mechanism, Protocol


def _duration_setting(value: object) -> object:
    """A setting's duration: the one grammar of ``handoff_shared.durations``, or seconds as a number."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration_setting)]
"""A duration setting: ``HANDOFF_OUTBOX_POLL=200ms``, ``=15m``, ``=1h30m``, or a number of seconds."""


class KafkaSettings(BaseSettings):
    """How to reach Kafka: every service's, and the operator tools' (``handoff dlq``)."""

    model_config = SettingsConfigDict(env_prefix="HANDOFF_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_security_protocol: Protocol = "PLAINTEXT"
    kafka_sasl_mechanism: Mechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> KafkaSettings:
        problems = self.kafka_security.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        """How every Kafka client of this process authenticates and encrypts."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password.get_secret_value(),
            cafile=self.kafka_ssl_cafile,
            certfile=self.kafka_ssl_certfile,
            keyfile=self.kafka_ssl_keyfile,
            check_hostname=self.kafka_ssl_check_hostname,
        )


class ServiceSettings(KafkaSettings):
    """The settings of any Handoff service; each service subclasses it."""

    model_config = SettingsConfigDict(env_prefix="HANDOFF_", extra="ignore", frozen=True)

    service_name: str = "handoff"
    # all: HTTP, consumers and background work in one process; api: HTTP only (the outbox
    # relay too, since requests write events); worker: consumers and background work (HTTP
    # answers only health and metrics traffic). Kubernetes runs api and worker apart.
    role: Literal["all", "api", "worker"] = "all"
    database_url: SecretStr  # HANDOFF_DATABASE_URL, required: no default carries credentials
    database_pool_size: int = Field(default=10, ge=1)
    admin_token: SecretStr = SecretStr("")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_max_body: int = Field(default=1_048_576, ge=1024)  # bytes; endpoints may set their own (edge.py)
    log_level: str = "info"
    log_json: bool = True
    # OpenTelemetry traces, OTLP over HTTP (e.g. http://otel-collector:4318). Empty: the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT decides; none set, tracing is off.
    otlp_endpoint: str = ""
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # of traces that start here

    consumer_batch_max: int = Field(default=500, ge=1, le=10_000)
    consumer_poll: Duration = timedelta(milliseconds=200)
    outbox_batch_max: int = Field(default=1000, ge=1, le=10_000)
    outbox_poll: Duration = timedelta(milliseconds=200)
    outbox_retention: Duration = timedelta(days=7)
    # The largest record batch the broker takes (its message.max.bytes, or the topics'
    # max.message.bytes if smaller): a larger outbox row is set aside without being sent.
    outbox_max_record_bytes: int = Field(default=1_048_588, ge=1024)
    # Retention (handoff_shared.retention): how often expired rows are deleted, and how many
    # per transaction; each service's tables have their own ``*_retention`` settings.
    retention_interval: Duration = timedelta(minutes=5)
    retention_batch: int = Field(default=1000, ge=1, le=100_000)
    kafka_start_timeout: Duration = timedelta(seconds=15)

    topic_mql_created: str = topics.MQL_CREATED
    topic_mql_created_dlq: str = topics.MQL_CREATED_DLQ
    topic_lead_assigned: str = topics.LEAD_ASSIGNED
    topic_lead_accepted: str = topics.LEAD_ACCEPTED
    topic_lead_rejected: str = topics.LEAD_REJECTED
    topic_lead_escalated: str = topics.LEAD_ESCALATED
    topic_lead_qualified: str = topics.LEAD_QUALIFIED
    topic_scoring_feedback: str = topics.SCORING_FEEDBACK
    topic_routing_config: str = topics.ROUTING_CONFIG

    @field_validator("database_url", mode="before")
    @classmethod
    def _asyncpg_url(cls, value: object) -> object:
        """Take ``postgresql://`` and ``postgres://`` URIs (CloudNativePG's, most managed
        databases') as they are: the services talk to them with asyncpg."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str):
            for scheme in ("postgresql://", "postgres://"):
                if raw.startswith(scheme):
                    return SecretStr("postgresql+asyncpg://" + raw.removeprefix(scheme))
        return value
