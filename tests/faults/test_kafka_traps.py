"""aiokafka's known traps, on the real broker: a client start that hangs, a commit after a
rebalance (``CommitFailedError``). The third, a consumer that goes silent after a full broker
restart, is test_recovery_under_load's broker kill: leads sent after it must still be assigned."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_shared.kafka import BatchConsumer, make_producer, partitions_of, start_client

from tests.stack import Stack, eventually, unique

pytestmark = pytest.mark.integration


async def test_a_producer_start_that_hangs_is_abandoned_and_retried(stack: Stack) -> None:
    """A broker address that accepts connections and never answers: each start() is cut short
    by the timeout, and once the broker answers the client starts."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answer; wait until the client hangs up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tries: list[str] = []

    def factory() -> AIOKafkaProducer:
        bootstrap = f"127.0.0.1:{port}" if len(tries) < 2 else stack.kafka
        tries.append(bootstrap)
        return make_producer(bootstrap, client_id=unique("hang"))

    try:
        producer = await asyncio.wait_for(start_client(factory, timeout=timedelta(seconds=1)), timeout=60)
        await producer.stop()
    finally:
        server.close()
        await server.wait_closed()
    assert tries[:2] == [f"127.0.0.1:{port}"] * 2
    assert tries[-1] == stack.kafka


async def test_commit_after_a_rebalance_is_survived_and_records_read_again(stack: Stack) -> None:
    """Consumer A is inside a batch for longer than its max poll interval, so it leaves the
    group and B takes the partition from the last committed offset: A's commit then fails
    (CommitFailedError), A goes on, and every record is handled (A's held batch twice, which the
    idempotent handlers absorb) and finally committed."""
    topic, group = unique("trap-rebalance"), unique("trap-group")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await partitions_of(stack.kafka, topic)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all")
    await producer.start()
    for i in range(20):
        await producer.send_and_wait(topic, f"record-{i}".encode())
    await producer.stop()

    seen: dict[str, list[bytes]] = {"a": [], "b": []}
    held: list[bytes] = []
    stop_a, stop_b = asyncio.Event(), asyncio.Event()

    def consumer(client_id: str, **options: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.kafka,
            group_id=group,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=5,
            **options,
        )

    a, b = consumer("trap-a", max_poll_interval_ms=3000), consumer("trap-b")

    async def handle_a(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        seen["a"].extend(r.value for r in records)
        if not held:  # the first batch: hold it until B owns the partition
            held.extend(r.value for r in records)
            await eventually(b.assignment, timeout=60, what="B to own the partition")

    async def handle_b(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        seen["b"].extend(r.value for r in records)

    await a.start()
    poll = timedelta(milliseconds=100)
    runner_a = asyncio.create_task(
        BatchConsumer(a, handle_a, max_records=5, poll=poll, service="trap").run(stop_a)
    )
    await eventually(lambda: held, timeout=30, what="A's first batch")
    await b.start()
    runner_b: asyncio.Task[None] | None = None
    try:
        runner_b = asyncio.create_task(
            BatchConsumer(b, handle_b, max_records=5, poll=poll, service="trap").run(stop_b)
        )
        everything = {f"record-{i}".encode() for i in range(20)}
        await eventually(
            lambda: everything <= set(seen["a"]) | set(seen["b"]), timeout=60, what="every record handled"
        )
        assert not runner_a.done(), "consumer A stopped"

        async def committed() -> Any:
            check = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=group, enable_auto_commit=False)
            await check.start()
            try:
                return await check.committed(TopicPartition(topic, 0)) == 20
            finally:
                await check.stop()

        await eventually(committed, timeout=60, interval=0.5, what="offset 20 committed")
        assert not runner_a.done(), "consumer A stopped"
        assert not runner_b.done(), "consumer B stopped"
        print(f"rebalance: A handled {len(seen['a'])} records, B {len(seen['b'])} (20 produced)")
        # A's commit of its held batch failed: B read that batch again from offset 0.
        assert set(held) <= set(seen["b"])
    finally:
        stop_a.set()
        stop_b.set()
        for runner in (runner_a, runner_b):
            if runner is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(runner, timeout=30)
        await a.stop()
        await b.stop()
        await admin.delete_topics([topic])
        await admin.close()
