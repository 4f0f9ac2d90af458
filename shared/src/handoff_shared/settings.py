"""Settings every service shares: read from the environment with the prefix ``HANDOFF_``."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handoff_shared import topics

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float | timedelta) -> timedelta:
    """Read ``500ms``, ``5s``, ``15m``, ``4h`` or ``2d`` (a bare number is seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 15m, 4h, 2d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class ServiceSettings(BaseSettings):
    """The settings of any Handoff service; each service subclasses it."""

    model_config = SettingsConfigDict(env_prefix="HANDOFF_", extra="ignore", frozen=True)

    service_name: str = "handoff"
    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: SecretStr = SecretStr("postgresql+asyncpg://handoff:handoff@127.0.0.1:55432/handoff")
    database_pool_size: int = Field(default=10, ge=1)
    admin_token: SecretStr = SecretStr("")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "info"
    log_json: bool = True

    consumer_batch_max: int = Field(default=500, ge=1, le=10_000)
    consumer_poll: timedelta = timedelta(milliseconds=200)
    outbox_batch_max: int = Field(default=1000, ge=1, le=10_000)
    outbox_poll: timedelta = timedelta(milliseconds=200)
    outbox_retention: timedelta = timedelta(days=7)
    kafka_start_timeout: timedelta = timedelta(seconds=15)

    topic_mql_created: str = topics.MQL_CREATED
    topic_mql_created_dlq: str = topics.MQL_CREATED_DLQ
    topic_lead_assigned: str = topics.LEAD_ASSIGNED
    topic_lead_accepted: str = topics.LEAD_ACCEPTED
    topic_lead_rejected: str = topics.LEAD_REJECTED
    topic_lead_escalated: str = topics.LEAD_ESCALATED
    topic_scoring_feedback: str = topics.SCORING_FEEDBACK

    @field_validator("consumer_poll", "outbox_poll", "outbox_retention", "kafka_start_timeout", mode="before")
    @classmethod
    def _duration(cls, value: str | float | timedelta) -> timedelta:
        return parse_duration(value)
