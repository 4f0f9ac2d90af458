"""What tracing costs a lead on the router's hot path, in process (no stack needed).

Per lead: writing an event (``new_event`` + ``OutboxMessage.of_event``, what routing does for each
``lead.assigned``) and reading one (``decode_batch`` of a 500-record batch inside the consumer's
handler wrapper, per record). Measured with tracing off (no OTLP endpoint: the default), and on
with spans recorded but dropped (a provider without an exporter), so the cost of tracing itself
shows without the export. Best of several repeats; CPU time of this one process.

The same script runs against an older checkout (without ``handoff_shared.tracing``) to give the
"before" figures: ``PYTHONPATH=<old>/shared/src python bench/tracing_overhead.py --report DIR``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from _stack import arguments, write_report
from aiokafka import ConsumerRecord
from handoff_shared import cloudevents, events, kafka
from handoff_shared.outbox import OutboxMessage

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ASSIGNED = {
    "assignment_id": "a-1",
    "lead_id": "lead-1",
    "rep_id": "rep-1",
    "team_id": "team-1",
    "rule_id": "dach",
    "assigned_at": "2026-03-02T09:00:00Z",
    "accept_by": "2026-03-02T13:00:00Z",
    "attempt": 1,
    "explanation": {"summary": "rule dach, round robin"},
}


def mql_record(offset: int) -> ConsumerRecord[bytes, bytes]:
    lead_id = f"lead-{offset}"
    data = {
        "lead_id": lead_id,
        "email": "pat@example.com",
        "company": {"name": "Example", "domain": "example.com", "employees": 50},
        "country": "DE",
        "source": "webinar",
        "score": 72,
        "mql_at": "2026-03-02T09:00:00Z",
    }
    message = OutboxMessage.of_event(
        "mql.created", cloudevents.new_event(events.MQL_CREATED, "bench", lead_id, data, time=NOW)
    )
    return ConsumerRecord(
        "mql.created", 0, offset, 0, 0, message.key, message.value, None, 0, 0, tuple(message.headers)
    )


def best_of(repeats: int, work: Callable[[], float]) -> float:
    return min(work() for _ in range(repeats))


def emit_us(leads: int) -> float:
    started = time.process_time()
    for index in range(leads):
        event = cloudevents.new_event(events.LEAD_ASSIGNED, "router", f"lead-{index}", ASSIGNED, time=NOW)
        OutboxMessage.of_event("lead.assigned", event)
    return (time.process_time() - started) / leads * 1e6


def consume_us(records: list[ConsumerRecord[bytes, bytes]], rounds: int) -> float:
    async def handler(batch: Any) -> None:
        kafka.decode_batch(batch, {events.MQL_CREATED}, lambda topic: topic + ".dlq", service="bench")

    consumer = kafka.BatchConsumer(None, handler, max_records=500, poll=NOW - NOW, service="bench")  # type: ignore[arg-type]
    handle = getattr(consumer, "_handle", handler)  # before tracing, the handler was called directly

    async def run() -> float:
        started = time.process_time()
        for _ in range(rounds):
            await handle(records)
        return (time.process_time() - started) / (rounds * len(records)) * 1e6

    return asyncio.run(run())


def measure(leads: int, rounds: int, repeats: int) -> dict[str, float]:
    records = [mql_record(offset) for offset in range(500)]
    return {
        "emit_us": best_of(repeats, lambda: emit_us(leads)),
        "consume_us": best_of(repeats, lambda: consume_us(records, rounds)),
    }


def main() -> None:
    args = arguments(__doc__).parse_args()
    leads, rounds, repeats = (5_000, 5, 3) if args.quick else (20_000, 20, 5)
    has_tracing = importlib.util.find_spec("handoff_shared.tracing") is not None
    figures: dict[str, Any] = {"leads": leads, "batches": rounds, "repeats": repeats}
    figures["off"] = measure(leads, rounds, repeats)
    rows = [("off (no endpoint)", figures["off"])]
    if has_tracing:
        from handoff_shared import tracing
        from opentelemetry.sdk.trace import TracerProvider

        tracing.use_provider(TracerProvider())  # spans recorded, then dropped: no exporter
        try:
            with tracing.span("bench"):  # a current trace: every event and record carries it
                figures["on"] = measure(leads, rounds, repeats)
        finally:
            tracing.disable()
        rows.append(("on (spans recorded, not exported)", figures["on"]))
    else:
        figures["note"] = "no handoff_shared.tracing: the code before tracing"
    table = "\n".join(f"| {name} | {row['emit_us']:.2f} | {row['consume_us']:.2f} |" for name, row in rows)
    markdown = (
        "## Tracing overhead\n\n"
        f"In process, CPU time per lead, best of {repeats}: {leads:,} events written "
        f"(`new_event` + `OutboxMessage.of_event`), {rounds} batches of 500 `mql.created` records "
        "read (`decode_batch` in the consumer's handler wrapper).\n\n"
        "| tracing | write an event (µs/lead) | read an event (µs/lead) |\n|---|---|---|\n"
        f"{table}\n"
    )
    write_report(args.report, "tracing_overhead", markdown, figures)


if __name__ == "__main__":
    main()
