"""Routing throughput, end to end, beside the physical ceiling measured in the same run.

    make up && uv run python bench/routing_throughput.py [--leads 20000] [--runs 3] [--report DIR]

1. Ceiling: a bare aiokafka consume-parse-produce relay (read a topic, parse each record as
   JSON, write it to another, idempotent producer, manual commits), N records through it.
2. Handoff: N ``mql.created`` events produced to ``lead.mql-created`` while the router
   of ``make up`` runs; the clock stops when the N-th ``lead.assigned`` is read.
It prints leads/s for both and their ratio. Figures vary with the machine's load: compare
the ratio, and run it more than once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from _stack import arguments, stack_env, write_report
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_shared.db import make_engine
from handoff_shared.kafka import partitions_of
from sqlalchemy import text

PARTITIONS = 4


def mql(lead_id: str, country: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    data = {
        "lead_id": lead_id,
        "email": f"{lead_id}@example.com",  # one person per lead: a repeated one would re-engage
        "country": country,
        "source": "bench",
        "campaign": "throughput",
        "score": 70,
        "company": {"name": "Bench", "domain": "bench.example.com", "employees": 500},
        "mql_at": now,
    }
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "bench",
            "type": "mql.created",
            "time": now,
            "subject": lead_id,
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


async def tail(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024
    )
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    consumer.assign(partitions)
    for partition, offset in (await consumer.end_offsets(partitions)).items():
        consumer.seek(partition, offset)
    return consumer


async def count_until(consumer: AIOKafkaConsumer, wanted: set[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while wanted and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
            for record in records:
                wanted.discard(record.key)
    if wanted:
        raise SystemExit(f"timed out with {len(wanted)} records missing")


async def produce(producer: AIOKafkaProducer, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    futures = [await producer.send(topic, value, key=key) for key, value in records]
    await asyncio.gather(*futures)


async def relay_ceiling(bootstrap: str, n: int) -> float:
    """Leads/s through a bare consume-produce relay: the most any Kafka pipeline does here."""
    tag = uuid.uuid4().hex[:8]
    source, sink = f"bench.relay-in.{tag}", f"bench.relay-out.{tag}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (source, sink)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    out = await tail(bootstrap, sink)
    records = [(f"lead-{i}-{tag}".encode(), mql(f"lead-{i}-{tag}", "DE")) for i in range(n)]
    stop = asyncio.Event()

    async def relay() -> None:
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{tag}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        relay_producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
        )
        await relay_producer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=100, max_records=500)
                futures = [
                    await relay_producer.send(sink, r.value, key=r.key)
                    for rs in batches.values()
                    for r in rs
                    if json.loads(r.value)["type"]  # parse each record, as any real relay must
                ]
                await asyncio.gather(*futures)
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()
            await relay_producer.stop()

    task = asyncio.create_task(relay())
    await asyncio.sleep(2)  # let the relay join its group before the clock starts
    started = time.perf_counter()
    await produce(producer, source, records)
    await count_until(out, {key for key, _ in records}, timeout=300)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await out.stop()
    await producer.stop()
    await admin.delete_topics([source, sink])
    await admin.close()
    return n / elapsed


def bench_config(tag: str, callback_base: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """Six reps in two teams (weighted round robin, least loaded): the routing under test."""
    reps = [f"bench-{tag}-{i}" for i in range(6)]
    return {
        "sla": {"accept_within": "4h"},
        "reps": [
            {
                "id": r,
                "email": f"{r}@example.com",
                "timezone": "UTC",
                "callback_url": f"{callback_base}/{r}",
                "weight": 1 + i % 3,
            }
            for i, r in enumerate(reps)
        ],
        "managers": [],
        "teams": [
            {"id": f"bench-{tag}-emea", "strategy": "weighted_round_robin", "members": reps[:4]},
            {"id": f"bench-{tag}-rest", "strategy": "least_loaded", "members": reps[4:]},
        ],
        "rules": [{"id": "emea", "when": {"country": ["DE", "FR"]}, "team": f"bench-{tag}-emea"}],
        "fallback_team": f"bench-{tag}-rest",
    }


async def put_bench_config(env: dict[str, str], tag: str, callback_base: str = "http://127.0.0.1:9") -> None:
    """Apply ``bench_config`` on the router of ``make up``."""
    config = bench_config(tag, callback_base)
    async with httpx.AsyncClient(
        base_url=env["HANDOFF_ROUTER_URL"],
        timeout=30,
        headers={"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"},
    ) as client:
        response = await client.put(
            "/v1/routing-config", content=yaml.safe_dump(config), headers={"Content-Type": "application/yaml"}
        )
        response.raise_for_status()


async def router_rate(env: dict[str, str], n: int) -> float:
    """Leads/s from ``mql.created`` produced to ``lead.assigned`` read, through the router."""
    tag = uuid.uuid4().hex[:8]
    await put_bench_config(env, tag)
    bootstrap = env["HANDOFF_KAFKA_BOOTSTRAP"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    out = await tail(bootstrap, "lead.assigned")
    records = [
        (f"lead-{i}-{tag}".encode(), mql(f"lead-{i}-{tag}", "DE" if i % 3 else "US")) for i in range(n)
    ]
    started = time.perf_counter()
    await produce(producer, "lead.mql-created", records)
    await count_until(out, {key for key, _ in records}, timeout=600)
    elapsed = time.perf_counter() - started
    await out.stop()
    await producer.stop()
    await forget_callbacks(env, tag)
    return n / elapsed


async def forget_callbacks(env: dict[str, str], tag: str) -> None:
    """Remove the run's callback deliveries: its reps have no signing secret, so they are never
    sent, and 20,000 a run left pending would slow the delivery worker's claims in later benches."""
    engine = make_engine(env["HANDOFF_DATABASE_URL"])
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "DELETE FROM router.callback_deliveries"
                    " WHERE status = 'pending' AND endpoint_id LIKE :like"
                ),
                {"like": f"rep:bench-{tag}-%"},
            )
    finally:
        await engine.dispose()


async def main(n: int, runs: int, report: Path | None) -> None:
    env = stack_env()
    print(f"routing throughput, {n} leads per run, {runs} run(s), {PARTITIONS} partitions")
    relay_rates, router_rates = [], []
    rows = []
    for run in range(1, runs + 1):
        relay = await relay_ceiling(env["HANDOFF_KAFKA_BOOTSTRAP"], n)
        routed = await router_rate(env, n)
        relay_rates.append(relay)
        router_rates.append(routed)
        ratio = routed / relay
        print(f"run {run}: bare relay {relay:8.0f} msgs/s   router {routed:8.0f} leads/s   ratio {ratio:.2f}")
        rows.append(f"| {run} | {relay:,.0f} | {routed:,.0f} | {ratio:.2f} |")
    relay_median = sorted(relay_rates)[len(relay_rates) // 2]
    router_median = sorted(router_rates)[len(router_rates) // 2]
    ratio = router_median / relay_median
    markdown = "\n".join(
        [
            "## Routing throughput beside a bare relay",
            "",
            f"{n:,} `mql.created` per run, produced as fast as the producer goes, to the last "
            "`lead.assigned` read (the router of `make up`, with sla-monitor and feedback consuming). "
            f"The ceiling: a bare aiokafka consume-parse-produce relay on the same broker, {n:,} "
            f"records, in the same run. {PARTITIONS} partitions.",
            "",
            "| run | bare relay (msgs/s) | router (leads/s) | ratio |",
            "|---|---|---|---|",
            *rows,
            f"| **median** | **{relay_median:,.0f}** | **{router_median:,.0f}** | **{ratio:.2f}** |",
            "",
            f"Goals: at least 5,000 leads/s ({'reached' if router_median >= 5000 else 'not reached'}) and "
            f"at least 0.5 of the relay ({'reached' if ratio >= 0.5 else 'not reached'}).",
        ]
    )
    figures = {
        "leads_per_run": n,
        "relay_msgs_per_s": relay_rates,
        "router_leads_per_s": router_rates,
        "relay_median": relay_median,
        "router_median": router_median,
        "ratio": ratio,
    }
    write_report(report, "routing_throughput", markdown, figures)


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.leads, args.runs = min(args.leads, 5_000), 1
    asyncio.run(main(args.leads, args.runs, args.report))
