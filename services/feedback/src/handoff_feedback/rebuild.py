"""``handoff-feedback rebuild [--force]``: replay every lifecycle topic from the beginning into
fresh aggregates, so a new metric can be backfilled.

It first takes the rebuild lock: the live consumer's batches and the snapshot loop's rounds
take it shared, so from then on the consumer waits and the snapshot loop skips its rounds
(nothing half-rebuilt is published or judged for alerts). Only then does it read where each
partition ends: an event the live consumer counts before the lock is taken is below that end
and replayed, one after it waits for the rebuild and is counted by the consumer. It checks
the topics still start at offset 0; if retention has deleted their first records it refuses
(the aggregates would lose them for good) unless ``--force``. Then it empties the lead
states, aggregates and samples, reads every partition from its first offset to that end and
merges the records with the same code as the live consumer, recording outcomes as published
without publishing them again. The live consumer then goes on from its own offsets; events
it re-reads are no-ops. The result does not depend on the order of the replay: a rebuild
over the same topics gives identical aggregates. Alert states are kept; every window is
published again as a snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from handoff_shared.kafka import partitions_of
from handoff_shared.runtime import Runtime
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from handoff_feedback import tables
from handoff_feedback.app import lifecycle_topics
from handoff_feedback.ingest.service import Ingest
from handoff_feedback.settings import Settings
from handoff_feedback.tables import REBUILD_LOCK

log = structlog.get_logger(__name__)
FRESH = ("leads", "aggregates", "accept_samples", "changed_windows")
REFUSED = 3  # the exit status when retention has dropped history and --force was not given


class HistoryDropped(Exception):
    """The topics no longer start at offset 0: a rebuild would lose the deleted records."""


def dropped_history(first: Mapping[TopicPartition, int]) -> str | None:
    """What retention has deleted (partitions whose log no longer starts at offset 0), or None."""
    gone = sorted((p for p, offset in first.items() if offset > 0), key=lambda p: (p.topic, p.partition))
    if not gone:
        return None
    where = ", ".join(f"{p.topic}[{p.partition}] starts at {first[p]:,}" for p in gone)
    return (
        f"{sum(first[p] for p in gone):,} records are no longer on the topics ({where}):"
        " a rebuild would drop what they counted from the aggregates for good"
    )


async def rebuild(settings: Settings, *, show_progress: bool, force: bool = False) -> int:
    """Replay the topics; answer how many records were read."""
    runtime = Runtime(settings, schema=tables.SCHEMA, outbox=tables.outbox)
    ingest = Ingest(runtime, settings, rebuilding=True)
    security = settings.kafka_security
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        # Assigned partitions without a committed offset are reset at once, in the background:
        # to the end ("latest", the default), such a reset could land after the seek to the
        # beginning below and replay nothing (seen: "rebuilt from 0 records" over SCRAM).
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **security.client_options(),
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, number)
            for topic in lifecycle_topics(settings)
            for number in await partitions_of(settings.kafka_bootstrap, topic, security=security)
        ]
        consumer.assign(partitions)
        async with runtime.engine.connect() as lock:
            await lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": REBUILD_LOCK})
            await lock.commit()
            try:
                return await _rebuild_locked(runtime, consumer, ingest, partitions, show_progress, force)
            finally:
                await _unlock(lock)
    finally:
        await consumer.stop()
        await runtime.engine.dispose()


async def _unlock(lock: AsyncConnection) -> None:
    await lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REBUILD_LOCK})
    await lock.commit()


async def _rebuild_locked(
    runtime: Runtime,
    consumer: AIOKafkaConsumer,
    ingest: Ingest,
    partitions: list[TopicPartition],
    show_progress: bool,
    force: bool,
) -> int:
    """Under the rebuild lock: where the topics start and end now, then empty and replay."""
    first = await consumer.beginning_offsets(partitions)
    dropped = dropped_history(first)
    if dropped is not None:
        if not force:
            raise HistoryDropped(dropped)
        log.warning("rebuild.history_dropped", detail=dropped, forced=True)
    last = await consumer.end_offsets(partitions)
    await consumer.seek_to_beginning(*partitions)
    total = sum(last[p] - first[p] for p in partitions)
    async with runtime.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(f'feedback.{t}' for t in FRESH)}"))
    read = await _replay(consumer, ingest, partitions, last, total, show_progress)
    if read < total:  # transactional markers aside, every record up to the end was read
        skipped = {p: await consumer.position(p) for p in partitions}
        log.warning("rebuild.short_read", read=read, total=total, positions=str(skipped)[:500])
    async with runtime.engine.begin() as connection:  # publish every window again
        await connection.execute(
            text(
                "INSERT INTO feedback.changed_windows SELECT DISTINCT dimension, segment,"
                ' "window", window_start FROM feedback.aggregates'
            )
        )
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


def main(settings: Settings, argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="handoff-feedback rebuild", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild even when retention has deleted the topics' first records (they are lost)",
    )
    args = parser.parse_args(list(argv))
    if args.force:
        sys.stderr.write(
            "warning: --force: records retention has deleted are not replayed; what they counted"
            " is dropped from the aggregates\n"
        )
    try:
        read = asyncio.run(rebuild(settings, show_progress=sys.stderr.isatty(), force=args.force))
    except HistoryDropped as refused:
        sys.stderr.write(
            f"rebuild refused, nothing changed: {refused}.\nRun with --force to rebuild from what is left.\n"
        )
        return REFUSED
    sys.stdout.write(f"rebuilt the feedback aggregates from {read} records\n")
    return 0
