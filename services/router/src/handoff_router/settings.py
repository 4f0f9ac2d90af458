"""The router's settings (environment, prefix ``HANDOFF_``)."""

from __future__ import annotations

from datetime import timedelta

from handoff_shared.settings import ServiceSettings, parse_duration
from pydantic import field_validator


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: int = 8081
    consumer_group: str = "handoff-router"
    reassign_group: str = "handoff-router-reassign"
    event_source: str = "handoff/router"
    queue_drain_interval: timedelta = timedelta(seconds=30)

    @field_validator("queue_drain_interval", mode="before")
    @classmethod
    def _interval(cls, value: str | float | timedelta) -> timedelta:
        return parse_duration(value)
