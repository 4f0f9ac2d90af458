"""The feedback service's CPU per lifecycle event, measured in-process: no broker fetch, no
other process's share of the cores, so the figure holds on a loaded machine.

    make up && uv run python scripts/profile_feedback_path.py [--leads 10000] [--batch 5000]

It runs the feedback consumer's own handler (``Ingest.on_records``: decode, merge, count,
one transaction) on batches of ``lead.assigned`` + decision records built in memory (the
records of bench/feedback_aggregation.py) against the stack's PostgreSQL, with outcomes
recorded as published (as a rebuild does: the stack's feedback service would otherwise relay
them). It prints this process's CPU time (``time.process_time``) and the wall time per event,
and the split of the CPU between decoding, merging and the database transaction.

It writes its leads into the stack's feedback tables although their events are on no topic:
use a stack you can throw away (``make clean``), or run ``handoff-feedback rebuild`` after it,
which recounts the aggregates from the topics alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from aiokafka import ConsumerRecord

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _stack import stack_env  # noqa: E402
from feedback_aggregation import events_of  # noqa: E402
from handoff_feedback import tables  # noqa: E402
from handoff_feedback.ingest import service as ingest_service  # noqa: E402
from handoff_feedback.settings import Settings  # noqa: E402
from handoff_shared.runtime import Runtime  # noqa: E402


def records(n: int) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for i, (topic, key, value) in enumerate(events_of(n)):
        k = key.encode()
        out.append(ConsumerRecord(topic, i % 4, i, 0, 0, k, value, None, len(k), len(value), ()))
    return out


class Timed:
    """CPU seconds spent in a wrapped function."""

    def __init__(self) -> None:
        self.cpu = 0.0

    def wrap(self, fn):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu += time.process_time() - started

        return timed


async def main(leads: int, batch: int) -> None:
    env = stack_env()
    import os

    os.environ.update({k: v for k, v in env.items() if k.startswith("HANDOFF_")})
    settings = Settings()
    runtime = Runtime(settings, schema=tables.SCHEMA, outbox=tables.outbox)
    ingest = ingest_service.Ingest(runtime, settings, rebuilding=True)
    decoding, merging = Timed(), Timed()
    ingest_service.kafka.decode_batch = decoding.wrap(ingest_service.kafka.decode_batch)  # type: ignore[method-assign]
    ingest_service.merge_batch = merging.wrap(ingest_service.merge_batch)  # type: ignore[assignment]
    every = records(leads)
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(every), batch):
        await ingest.on_records(every[start : start + batch])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await runtime.engine.dispose()
    n = len(every)
    print(
        f"{n:,} events in batches of {batch:,}: {n / wall:,.0f} events/s wall,"
        f" CPU {cpu / n * 1e6:,.0f} µs/event"
    )
    print(f"  decode + validate   {decoding.cpu / n * 1e6:6.0f} µs/event")
    print(f"  merge + count       {merging.cpu / n * 1e6:6.0f} µs/event")
    rest = cpu - decoding.cpu - merging.cpu
    print(f"  facts, database, rest {rest / n * 1e6:4.0f} µs/event (of this process's CPU)")
    print(
        f"  waiting (wall - CPU) {(wall - cpu) / n * 1e6:5.0f} µs/event (PostgreSQL's work and round trips)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.batch))
