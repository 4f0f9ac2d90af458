"""JSON logs (structlog) and Prometheus metrics shared by every service.

Logs carry event names and ids as key-values. Secrets and a lead's personal data never
reach them: keys that name either are replaced by ``[redacted]`` before rendering, and an
e-mail address anywhere in an event (an exception's text too) by ``[email]``.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

from handoff_shared import tracing

REDACTED_KEYS = frozenset(
    {
        "authorization",
        "token",
        "admin_token",
        "secret",
        "password",
        "database_url",
        "email",
        "phone",
        "first_name",
        "last_name",
        "company",
        "title",
        "note",
        "lead",
        "data",
    }
)


EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the values of keys that may hold secrets or personal data."""
    for key in event:
        if key.lower() in REDACTED_KEYS or "secret" in key.lower() or "token" in key.lower():
            event[key] = "[redacted]"
    return event


def hide_emails(text: str) -> str:
    """``text`` with every e-mail address replaced by ``[email]``."""
    return EMAIL.sub("[email]", text) if "@" in text else text


def redact_emails(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace e-mail addresses anywhere in the event's text, the rendered exception included
    (an error message may quote a lead's data whatever the key it is logged under)."""
    for key, value in event.items():
        if isinstance(value, str) and "@" in value:
            event[key] = hide_emails(value)
    return event


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Route structlog and the standard library's logging to one JSON line per event on stdout."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # a line per event, even if the process is killed
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        tracing.add_trace_ids,
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact_emails, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_emails,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # httpx logs every request's URL at INFO: callback URLs belong to SDR tools, and each attempt
    # is recorded (status, latency, error class) by the callbacks feature itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)


EVENTS_CONSUMED = Counter(
    "handoff_events_consumed_total", "Valid events read from Kafka", ["service", "topic", "type"]
)
DEAD_LETTERS = Counter(
    "handoff_dead_letters_total", "Records sent to a dead-letter topic", ["service", "topic", "error_class"]
)
BATCH_SECONDS = Histogram(
    "handoff_consumer_batch_seconds",
    "Time to handle one consumed batch, database commit included",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_FAILURES = Counter(
    "handoff_consumer_batch_failures_total", "Batches that failed and were retried", ["service"]
)
OUTBOX_PUBLISHED = Counter("handoff_outbox_published_total", "Outbox rows published to Kafka", ["service"])
OUTBOX_FAILURES = Counter("handoff_outbox_failures_total", "Outbox publish attempts that failed", ["service"])
OUTBOX_SET_ASIDE = Counter(
    "handoff_outbox_set_aside_total",
    "Outbox rows the broker refused for good, set aside for an operator (handoff dlq)",
    ["service", "topic"],
)
OUTBOX_SET_ASIDE_ROWS = Gauge(
    "handoff_outbox_set_aside_rows", "Outbox rows set aside now, waiting for an operator", ["service"]
)
OUTBOX_PENDING = Gauge("handoff_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "handoff_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published (0: none)",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "handoff_consumer_lag",
    "Records behind the partition's end after the last batch a consumer handled",
    ["service", "topic", "partition"],
)
HTTP_REQUESTS = Counter(
    "handoff_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "handoff_http_request_seconds",
    "Time to answer an HTTP request, by route template",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
