"""The feedback service's settings (environment, prefix ``HANDOFF_``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handoff_shared.settings import Duration, ServiceSettings
from pydantic import Field, field_validator


class Settings(ServiceSettings):
    service_name: str = "feedback"
    http_port: int = 8083
    # Not the skeleton's "handoff-feedback": a new group reads every topic from the earliest
    # offset on the first run of the outcome logic (docs/architecture.md).
    consumer_group: str = "handoff-feedback-outcomes"
    event_source: str = "handoff/feedback"
    # Reads routing.config (the router's routing.config_applied) for the alert thresholds.
    config_consumer_group: str = "handoff-feedback-config"
    # Larger batches than the other services: a batch's deltas are merged per (segment,
    # window, measure) before one upsert, so the more events a batch holds, the fewer rows
    # each event costs. Past 2,000 the rate stopped growing (6,400 events/s in-process at
    # 2,000, 6,700 at 5,000: within the noise) while the peak memory did (138 MB against
    # 185 MB after 30,000 events through the service): scripts/profile_feedback_path.py.
    consumer_batch_max: int = Field(default=2000, ge=1, le=10_000)

    report_timezone: str = "UTC"
    snapshot_interval: Duration = timedelta(seconds=60)
    alert_window: Literal["day", "week"] = "day"
    # The fallback until a routing config's ``alerts`` arrives (routing.config_applied).
    alert_acceptance_below: float = Field(default=0.5, ge=0, le=1)
    alert_acceptance_above: float = Field(default=0.9, ge=0, le=1)
    alert_min_decisions: int = Field(default=20, ge=1)
    signal_alpha: float = Field(default=0.01, gt=0, lt=1)
    signal_min_sample: int = Field(default=20, ge=1)
    signal_rubber_stamp_acceptance: float = Field(default=0.9, ge=0, le=1)
    # Retention (handoff_feedback/retention.py): a lead's state after its last change; the
    # aggregates and samples of windows older than this (reports reach that far back).
    lead_states_retention: Duration = timedelta(days=90)
    report_retention: Duration = timedelta(days=800)

    @field_validator("report_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name, e.g. Europe/Berlin)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone)
