"""The feedback service's settings (environment, prefix ``HANDOFF_``)."""

from __future__ import annotations

from handoff_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "feedback"
    http_port: int = 8083
    consumer_group: str = "handoff-feedback"
    event_source: str = "handoff/feedback"
