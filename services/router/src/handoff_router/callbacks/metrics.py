"""Callback metrics on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "handoff_callback_attempts_total",
    "Callback tries, by outcome (delivered, retry, gone, failed) and error class",
    ["outcome", "error"],
)
RETRIES = Counter("handoff_callback_retries_total", "Callback tries scheduled again after a failure")
DELIVERY_SECONDS = Histogram(
    "handoff_callback_delivery_seconds",
    "From the event's creation to the 2xx that delivered it",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400),
)
OPEN_CIRCUITS = Gauge("handoff_callback_open_circuits", "Callback endpoints whose circuit is not closed")
PENDING = Gauge("handoff_callback_pending", "Callback deliveries not yet delivered nor failed")
OLDEST_PENDING = Gauge("handoff_callback_oldest_pending_seconds", "Age of the oldest pending delivery")
