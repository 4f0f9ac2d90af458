"""The router's CPU per lead on the MQL path, measured in-process: no broker fetch, no other
process's share of the cores, so the figure holds on a loaded machine.

    make up && uv run python scripts/profile_mql_path.py [--leads 5000] [--batch 500] [--passes 3]

It runs the router's own code against the stack's PostgreSQL and Kafka: ``decode_batch`` and
``route_mqls`` (the MQL consumer's handler) on batches of ``mql.created`` records built in
memory, then the outbox relay publishing what each batch wrote to ``lead.assigned``. It prints
this process's CPU time (``time.process_time``) per lead for each of the three, and in all.
Stop the stack's router first (it would publish the same outbox rows): the script does not.

For a finer split, sample it with py-spy and split the samples with profile_stages.py:

    .venv/bin/py-spy record --rate 250 --format raw -o /tmp/mql.txt -- \
        .venv/bin/python scripts/profile_mql_path.py --leads 20000
    uv run python scripts/profile_stages.py /tmp/mql.txt --cpu-us-per-lead <all>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import yaml
from aiokafka import ConsumerRecord
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _stack import stack_env  # noqa: E402
from handoff_router import tables  # noqa: E402
from handoff_router.assignments.consumer import route_mqls  # noqa: E402
from handoff_router.bootstrap import bootstrap  # noqa: E402
from handoff_router.settings import RouterSettings  # noqa: E402
from handoff_shared import db, events, kafka, topics  # noqa: E402
from handoff_shared.outbox import OutboxRelay  # noqa: E402
from routing_throughput import bench_config, mql  # noqa: E402


def bench_config_text(tag: str) -> bytes:
    """The routing of bench/routing_throughput.py, as YAML."""
    return yaml.safe_dump(bench_config(tag)).encode()


def records(tag: str, n: int, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for i in range(n):
        key = f"lead-{i}-{tag}".encode()
        value = mql(key.decode(), "DE" if i % 3 else "US")
        out.append(ConsumerRecord(topic, i % 4, i, 0, 0, key, value, None, len(key), len(value), ()))
    return out


async def main(leads: int, batch: int, runs: int) -> None:
    os.environ.update({k: v for k, v in stack_env().items() if k.startswith("HANDOFF_")})
    # Callbacks to loopback only, as the stack's services run.
    os.environ.setdefault("HANDOFF_CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    settings = RouterSettings()
    engine = db.make_engine(settings.database_url.get_secret_value(), schema=tables.SCHEMA)
    sessions = db.make_sessions(engine)
    producer = await kafka.start_client(
        lambda: kafka.make_producer(settings.kafka_bootstrap, client_id="profile-mql-path"),
        timeout=settings.kafka_start_timeout,
    )
    relay = OutboxRelay(sessions, tables.outbox, producer, batch_max=settings.outbox_batch_max)
    router = bootstrap(settings, sessions, relay)
    context = router.context
    tag = uuid.uuid4().hex[:8]
    await router.configs.put(bench_config_text(tag))

    def dead_letter_topic(topic: str) -> str:
        return topics.dead_letter_topic(topic, "router", owners_topic=settings.topic_mql_created_dlq)

    async def one_pass(items: list[ConsumerRecord[bytes, bytes]]) -> tuple[float, float, float]:
        decode = route = publish = 0.0
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            t0 = time.process_time()
            valid, dead = kafka.decode_batch(chunk, {events.MQL_CREATED}, dead_letter_topic, service="router")
            t1 = time.process_time()
            await route_mqls(context, valid, dead)
            t2 = time.process_time()
            while await relay.publish_once():
                pass
            t3 = time.process_time()
            decode, route, publish = decode + t1 - t0, route + t2 - t1, publish + t3 - t2
        return decode, route, publish

    await one_pass(records(f"warm-{tag}", min(2000, leads), settings.topic_mql_created))  # warm up
    # The machine's other load slows a pass down (shared caches, frequency): each stage's best
    # pass is the figure closest to what the code costs.
    passes = [await one_pass(records(f"{tag}-{n}", leads, settings.topic_mql_created)) for n in range(runs)]
    async with db.transaction(sessions) as session:  # its reps' callbacks would clog the stack's worker
        await session.execute(
            text(
                "DELETE FROM router.callback_deliveries WHERE status = 'pending' AND endpoint_id LIKE :like"
            ),
            {"like": f"rep:bench-{tag}-%"},
        )
    await producer.stop()
    await engine.dispose()
    decode, route, publish = (min(stage) for stage in zip(*passes, strict=True))
    total = decode + route + publish
    print(f"{leads} leads in batches of {batch}, best of {runs} passes; CPU of this process, µs per lead:")
    for name, cpu in (
        ("decode + validate (decode_batch)", decode),
        ("route_mqls (idempotency, decide, build events, COPY, commit)", route),
        ("outbox relay (claim, send, mark sent)", publish),
        ("all", total),
    ):
        print(f"  {name:<64} {cpu / leads * 1e6:7.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.batch, args.passes))
