"""The sla-monitor service's settings (environment, prefix ``HANDOFF_``)."""

from __future__ import annotations

from handoff_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "sla-monitor"
    http_port: int = 8082
    consumer_group: str = "handoff-sla-monitor"
    event_source: str = "handoff/sla-monitor"
