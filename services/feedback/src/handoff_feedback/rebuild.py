"""``handoff-feedback rebuild``: replay every lifecycle topic from the beginning into fresh
aggregates, so a new metric can be backfilled.

It takes the rebuild lock (the live consumer's batches wait on it), empties the lead states,
aggregates and samples, reads every partition from its first offset to the end offset it had
when the rebuild began, and merges the records with the same code as the live consumer,
recording outcomes as published without publishing them again. The live consumer then goes
on from its own offsets; events it re-reads are no-ops. The result does not depend on the
order of the replay: a rebuild over the same topics gives identical aggregates. Alert states
are kept; every window is published again as a snapshot.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, TopicPartition
from handoff_shared.kafka import partitions_of
from handoff_shared.runtime import Runtime
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import text

from handoff_feedback import tables
from handoff_feedback.app import lifecycle_topics
from handoff_feedback.ingest.service import REBUILD_LOCK, Ingest
from handoff_feedback.settings import Settings

FRESH = ("leads", "aggregates", "accept_samples", "changed_windows")


async def rebuild(settings: Settings, *, show_progress: bool) -> int:
    """Replay the topics; answer how many records were read."""
    runtime = Runtime(settings, schema=tables.SCHEMA, outbox=tables.outbox)
    ingest = Ingest(runtime, settings, rebuilding=True)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, number)
            for topic in lifecycle_topics(settings)
            for number in await partitions_of(settings.kafka_bootstrap, topic)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        first = await consumer.beginning_offsets(partitions)
        last = await consumer.end_offsets(partitions)
        total = sum(last[p] - first[p] for p in partitions)
        async with runtime.engine.connect() as lock:
            await lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": REBUILD_LOCK})
            await lock.commit()
            try:
                async with runtime.engine.begin() as connection:
                    await connection.execute(text(f"TRUNCATE {', '.join(f'feedback.{t}' for t in FRESH)}"))
                read = await _replay(consumer, ingest, partitions, last, total, show_progress)
                async with runtime.engine.begin() as connection:  # publish every window again
                    await connection.execute(
                        text(
                            "INSERT INTO feedback.changed_windows SELECT DISTINCT dimension, segment,"
                            ' "window", window_start FROM feedback.aggregates'
                        )
                    )
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REBUILD_LOCK})
                await lock.commit()
    finally:
        await consumer.stop()
        await runtime.engine.dispose()
    return read


async def _replay(
    consumer: AIOKafkaConsumer,
    ingest: Ingest,
    partitions: list[TopicPartition],
    last: dict[TopicPartition, int],
    total: int,
    show_progress: bool,
) -> int:
    read = 0
    with Progress(
        TextColumn("rebuild"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("records", total=total)
        while [p for p in partitions if await consumer.position(p) < last[p]]:
            batches = await consumer.getmany(timeout_ms=500, max_records=ingest.settings.consumer_batch_max)
            records = [r for p, rs in batches.items() for r in rs if r.offset < last[p]]
            if records:
                await ingest.on_records(records)
                read += len(records)
                progress.update(task, advance=len(records))
    return read


def main(settings: Settings) -> int:
    read = asyncio.run(rebuild(settings, show_progress=sys.stderr.isatty()))
    sys.stdout.write(f"rebuilt the feedback aggregates from {read} records\n")
    return 0
