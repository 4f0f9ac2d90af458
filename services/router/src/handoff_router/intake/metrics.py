"""Intake's metrics, per source (the ids of the active config: a bounded set)."""

from __future__ import annotations

from prometheus_client import Counter

REFUSED = Counter(
    "handoff_intake_refused_total",
    "Intake deliveries refused 401, by source and why (headers, signature, no_secret)",
    ["source", "why"],
)
RECORDS = Counter(
    "handoff_intake_records_total",
    "Intake records by source and outcome (accepted, filtered, dead_lettered)",
    ["source", "outcome"],
)
