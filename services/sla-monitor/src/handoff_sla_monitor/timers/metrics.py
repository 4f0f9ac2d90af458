"""The sla-monitor's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPEN_TIMERS = Gauge("handoff_sla_open_timers", "Timers of undecided assignments")
OVERDUE_NOW = Gauge("handoff_sla_overdue", "Open timers past their SLA deadline")
CATCH_UP_BACKLOG = Gauge("handoff_sla_catch_up_backlog", "Timers whose next step is due but not yet fired")
ESCALATIONS = Counter("handoff_sla_escalations_total", "Ladder steps fired", ["level"])
SCAN_LAG = Histogram(
    "handoff_sla_scan_lag_seconds",
    "How late a step fired after its planned time",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400),
)
SCAN_SECONDS = Histogram(
    "handoff_sla_scan_seconds",
    "Time of one scan batch: claim, fire, record, commit",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
