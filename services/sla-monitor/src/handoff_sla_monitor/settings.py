"""The sla-monitor service's settings (environment, prefix ``HANDOFF_``)."""

from __future__ import annotations

from datetime import timedelta

from handoff_shared.settings import Duration, ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    service_name: str = "sla-monitor"
    http_port: int = 8082
    # Not the skeleton's ``handoff-sla-monitor``: a new group reads the retained history from the
    # earliest offset on the first run of the timers (see docs/architecture.md, "SLA timers").
    consumer_group: str = "handoff-sla-monitor-timers"
    event_source: str = "handoff/sla-monitor"
    sla_scan_interval: Duration = timedelta(milliseconds=250)
    sla_scan_batch: int = Field(default=1000, ge=1, le=10_000)
    sla_gauges_interval: Duration = timedelta(seconds=10)
    # Retention (handoff_sla_monitor/retention.py): closed timers and their fired steps. At
    # least as long as a dead letter can be replayed (the *.dlq topics keep 30 days).
    timers_retention: Duration = timedelta(days=35)
