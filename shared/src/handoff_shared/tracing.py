"""OpenTelemetry traces that follow one lead across topics and services.

Off unless an OTLP endpoint is configured (``HANDOFF_OTLP_ENDPOINT``, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). Off, every hook
below is one test of the module flag ``ENABLED``: nothing is created, nothing is added to
events or records.

On, the W3C trace context travels with each lead:

- every event written gets the CloudEvents distributed-tracing extension (``traceparent``,
  and ``tracestate`` when there is one), and its Kafka record the same headers. The context is
  that of the work that wrote the outbox row: the HTTP request, or the consumed event of the same
  lead (``subject``) in the batch being handled, so the relay's publish continues the trace;
- the outbox relay publishes each traced row under a ``publish <topic>`` span, child of that context,
  and puts the span's context in the record's ``traceparent`` header (the event's extension keeps
  the origin, as the extension's spec asks of intermediaries);
- a consumer handles each traced record under a ``process <type>`` span, child of the producer's
  context (header first, then the event's extension);
- a callback is posted under a span continuing the event it carries; httpx puts
  ``traceparent`` on the request, so an SDR tool that sends it back with its decision
  continues the same trace through the router's API.

FastAPI, httpx, SQLAlchemy (asyncpg underneath) and aiokafka are instrumented with the
``opentelemetry-instrumentation-*`` packages; structlog lines carry ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace import SpanKind as SpanKind

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

ENABLED = False
"""Whether traces are recorded and propagated in this process (set by ``configure``)."""

TRACE_KEYS = ("traceparent", "tracestate")
NO_EXTENSIONS: Mapping[str, str] = MappingProxyType({})
_OTLP_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_tracer: trace.Tracer = trace.NoOpTracer()
_provider: TracerProvider | None = None
_instrumented_global = False


def endpoint_configured(otlp_endpoint: str) -> bool:
    """Whether spans have somewhere to go: the setting, or OpenTelemetry's standard variables."""
    return bool(otlp_endpoint) or any(os.environ.get(name) for name in _OTLP_ENV)


def configure(service: str, *, otlp_endpoint: str = "", sample_ratio: float = 1.0) -> bool:
    """Record and export spans when an OTLP endpoint is configured; answer whether tracing is on.

    ``otlp_endpoint`` is the collector's base URL (``http://otel-collector:4318``, OTLP over
    HTTP); ``/v1/traces`` is added when it has no path. Empty: the exporter reads
    ``OTEL_EXPORTER_OTLP_*`` itself, and with none of them set tracing stays off.
    """
    global _instrumented_global
    if not endpoint_configured(otlp_endpoint):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if _provider is None:
        if otlp_endpoint and otlp_endpoint.rstrip("/").count("/") <= 2:  # scheme://host[:port]
            otlp_endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider = TracerProvider(
            resource=Resource.create({"service.name": service, "service.namespace": "handoff"}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        exporter = OTLPSpanExporter(endpoint=otlp_endpoint) if otlp_endpoint else OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        use_provider(provider)
    if not _instrumented_global:
        HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
        AIOKafkaInstrumentor().instrument(tracer_provider=_provider)
        _instrumented_global = True
    return True


def use_provider(provider: TracerProvider) -> None:
    """Record through ``provider`` (``configure`` builds one; tests pass an in-memory one)."""
    global ENABLED, _tracer, _provider
    _provider = provider
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer("handoff")
    ENABLED = True


def disable() -> None:
    """Stop recording and propagating (tests turn tracing off again with this)."""
    global ENABLED, _tracer
    ENABLED = False
    _tracer = trace.NoOpTracer()


def instrument_app(app: FastAPI) -> None:
    """Server spans for every route but health, readiness and metrics."""
    if ENABLED:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls="/healthz,/readyz,/metrics",
            tracer_provider=_provider,
            exclude_spans=["receive", "send"],  # the request's span is enough; not one per ASGI message
        )


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement (asyncpg runs under SQLAlchemy's engine)."""
    if ENABLED:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses are unchanged;
        # tests/integration/test_tracing.py checks the statements' spans arrive.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True
        )


def shutdown() -> None:
    """Export what is buffered (at most a few seconds) and stop."""
    if _provider is not None:
        _provider.force_flush(5_000)


# --- events and records ----------------------------------------------------------------


@dataclass
class _Batch:
    """The spans of the consumed batch being handled: one ``process`` span per traced record."""

    by_subject: dict[str, Any] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    token: object | None = None


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("handoff_trace_batch", default=None)


def event_extensions(subject: str | None) -> Mapping[str, str]:
    """The trace extension attributes of a new event about ``subject`` (empty: not traced).

    The context is the one of the consumed event of the same lead in the batch in hand, else
    the current span's (the HTTP request's)."""
    if not ENABLED:
        return NO_EXTENSIONS
    batch = _batch.get()
    ctx = batch.by_subject.get(subject) if batch is not None and subject is not None else None
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    return {key: carrier[key] for key in TRACE_KEYS if key in carrier}


def record_headers(extensions: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """Kafka headers for an event's trace extensions."""
    return [(key, extensions[key].encode()) for key in TRACE_KEYS if key in extensions]


def _context_of(headers: Sequence[tuple[str, bytes]], fallback: Mapping[str, str]) -> Any:
    carrier: dict[str, str] = {}
    for name, raw in headers:
        if name in TRACE_KEYS and raw:
            carrier[name] = raw.decode(errors="replace")
    if "traceparent" not in carrier:
        carrier = {key: fallback[key] for key in TRACE_KEYS if key in fallback}
    return propagate.extract(carrier) if carrier else None


@contextmanager
def handling_batch(topics: str, size: int) -> Iterator[None]:
    """Around a consumer's handler: the spans of its records end (failed or not) when it returns.

    A ``consume <topics>`` span is current meanwhile, so SQL statements have a parent; with one
    traced record in the batch, that record's own span is current instead."""
    if not ENABLED:
        yield
        return
    batch = _Batch()
    reset = _batch.set(batch)
    with _tracer.start_as_current_span(
        f"consume {topics}", kind=SpanKind.CONSUMER, attributes={"messaging.batch.message_count": size}
    ) as batch_span:
        try:
            yield
        except BaseException as error:
            for span in batch.spans:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            if batch.token is not None:
                otel_context.detach(batch.token)  # type: ignore[arg-type]
            for span in batch.spans:
                batch_span.add_link(span.get_span_context())
                span.end()
            _batch.reset(reset)


def consumed(
    topic: str,
    partition: int,
    offset: int,
    headers: Sequence[tuple[str, bytes]],
    event_id: str,
    event_type: str,
    subject: str | None,
    extensions: Mapping[str, str],
    *,
    alone: bool,
) -> None:
    """A valid event read from Kafka: a ``process`` span continuing its producer's trace."""
    batch = _batch.get()
    parent = _context_of(headers, extensions)
    if batch is None or parent is None:
        return
    span = _tracer.start_span(
        f"process {event_type}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "cloudevents.event_id": event_id,
            "cloudevents.event_type": event_type,
            "cloudevents.event_subject": subject or "",
        },
    )
    batch.spans.append(span)
    if subject is not None:
        batch.by_subject[subject] = trace.set_span_in_context(span)
    if alone and batch.token is None:
        batch.token = otel_context.attach(trace.set_span_in_context(span))


def publishing(topic: str, headers: list[tuple[str, bytes]]) -> Span | None:
    """The relay is about to publish a row: a ``publish`` span continuing the row's context,
    whose own context replaces the record's ``traceparent`` header (None: the row is not traced)."""
    parent = _context_of(headers, NO_EXTENSIONS)
    if parent is None:
        return None
    span = _tracer.start_span(
        f"publish {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "publish",
            "messaging.destination.name": topic,
        },
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    headers[:] = [(name, raw) for name, raw in headers if name not in TRACE_KEYS]
    headers.extend((key, carrier[key].encode()) for key in TRACE_KEYS if key in carrier)
    return span


def context_of_body(body: bytes) -> Any:
    """The trace context of a structured CloudEvent's JSON body (None: not traced)."""
    import orjson

    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("traceparent"), str):
        return None
    return propagate.extract({key: envelope[key] for key in TRACE_KEYS if isinstance(envelope.get(key), str)})


@contextmanager
def span(
    name: str,
    *,
    parent: Any = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """A span around some work (nothing when tracing is off)."""
    if not ENABLED:
        yield
        return
    with _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes):
        yield


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` on each line."""
    if ENABLED:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event["trace_id"] = format(context.trace_id, "032x")
            event["span_id"] = format(context.span_id, "016x")
    return event
