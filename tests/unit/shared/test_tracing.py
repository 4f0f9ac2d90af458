"""Trace context through events, the outbox and consumers, with an in-memory exporter.

Off (no OTLP endpoint), nothing is added to events or records; on, one lead's events share one
trace from the work that wrote them to the consumer that reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from handoff_shared import cloudevents, events, kafka, tracing
from handoff_shared.outbox import OutboxMessage
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.unit.shared.samples import mql as mql_data

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.disable()


def record(message: OutboxMessage, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=message.topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=message.key,
        value=message.value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=tuple(message.headers),
    )


def mql(lead_id: str) -> OutboxMessage:
    event = cloudevents.new_event(events.MQL_CREATED, "test", lead_id, mql_data(lead_id), time=NOW)
    return OutboxMessage.of_event("mql.created", event)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


def test_off_adds_nothing_to_events_or_records() -> None:
    assert not tracing.ENABLED
    message = mql("lead-1")
    assert [name for name, _ in message.headers] == ["content-type"]
    assert b"traceparent" not in (message.value or b"")
    assert cloudevents.decode(message.value, list(message.headers)).extensions == {}


def test_not_configured_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.configure("router")
    assert not tracing.ENABLED
    assert tracing.endpoint_configured("http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert tracing.endpoint_configured("")


def test_an_event_carries_the_current_trace_in_its_extension_and_headers(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("intake"):
        message = mql("lead-1")
    (intake,) = spans.get_finished_spans()
    headers = dict(message.headers)
    event = cloudevents.decode(message.value, list(message.headers))
    expected = f"00-{trace_id(intake):032x}-{intake.context.span_id:016x}-"
    assert event.extensions["traceparent"].startswith(expected)  # then the flags: sampled
    assert headers["traceparent"] == event.extensions["traceparent"].encode()


async def test_a_consumer_continues_the_producers_trace_per_lead(spans: InMemorySpanExporter) -> None:
    with tracing.span("intake a"):
        first = mql("lead-a")
    with tracing.span("intake b"):
        second = mql("lead-b")
    written: dict[str, OutboxMessage] = {}

    async def handler(records: Any) -> None:
        valid, dead = kafka.decode_batch(records, {events.MQL_CREATED}, lambda t: t + ".dlq", service="t")
        assert not dead
        for item in valid:  # what a service writes for each lead, in the batch's transaction
            lead = item.event.subject or ""
            assigned = cloudevents.new_event(events.LEAD_ASSIGNED, "router", lead, {"x": 1}, time=NOW)
            written[lead] = OutboxMessage.of_event("lead.assigned", assigned)

    consumer = kafka.BatchConsumer(
        None,
        handler,
        max_records=10,
        poll=NOW - NOW,
        service="t",
    )
    await consumer._handle([record(first, 0), record(second, 1)])
    finished = {span.name: span for span in spans.get_finished_spans()}
    by_trace = {lead: trace_id(finished[f"intake {lead[-1]}"]) for lead in ("lead-a", "lead-b")}
    processes = [span for span in spans.get_finished_spans() if span.name == "process mql.created"]
    assert {trace_id(span) for span in processes} == set(by_trace.values())
    assert all(span.kind is SpanKind.CONSUMER for span in processes)
    for lead, message in written.items():
        event = cloudevents.decode(message.value, list(message.headers))
        assert int(event.extensions["traceparent"].split("-")[1], 16) == by_trace[lead]
    # two records: the batch's own span is apart, linked to each record's span
    (batch_span,) = [s for s in spans.get_finished_spans() if s.name == "consume mql.created"]
    assert len(batch_span.links) == 2


def test_the_relay_publishes_under_a_span_that_continues_the_row(spans: InMemorySpanExporter) -> None:
    with tracing.span("intake"):
        message = mql("lead-1")
    headers = list(message.headers)
    span = tracing.publishing("mql.created", headers)
    assert span is not None
    span.end()
    intake, publish = spans.get_finished_spans()
    assert trace_id(publish) == trace_id(intake)
    assert publish.parent is not None
    assert publish.parent.span_id == intake.context.span_id
    assert dict(headers)["traceparent"].decode().split("-")[2] == f"{publish.context.span_id:016x}"
    # the event keeps its origin (intermediaries leave the extension alone)
    assert (
        cloudevents.decode(message.value, headers).extensions["traceparent"]
        == dict(message.headers)["traceparent"].decode()
    )


def test_a_callback_body_gives_back_its_trace(spans: InMemorySpanExporter) -> None:
    with tracing.span("intake"):
        message = mql("lead-1")
    context = tracing.context_of_body(message.value or b"")
    assert context is not None
    assert tracing.context_of_body(b"not json") is None
    assert tracing.context_of_body(b'{"specversion":"1.0"}') is None


def test_log_lines_carry_the_trace_id(spans: InMemorySpanExporter) -> None:
    with tracing.span("work"):
        line = tracing.add_trace_ids(None, "info", {"event": "x"})
    (work,) = spans.get_finished_spans()
    assert line["trace_id"] == f"{trace_id(work):032x}"
    assert tracing.add_trace_ids(None, "info", {"event": "y"}) == {"event": "y"}
