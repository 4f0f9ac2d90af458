"""Routing throughput, end to end with every service doing its work, beside the physical
ceiling measured in the same run, and the machine's CPU per lead.

    make up && uv run python bench/routing_throughput.py [--leads 20000] [--runs 3] [--report DIR]

1. Ceiling: a bare aiokafka consume-parse-produce relay (read a topic, parse each record as
   JSON, write it to another, idempotent producer, manual commits), N records through it.
2. Handoff: N ``mql.created`` events produced to ``lead.mql-created`` while the stack of
   ``make up`` runs. The clock stops when all of it is done: the N-th ``lead.assigned`` read,
   the sla-monitor's and feedback's consumer groups committed to the end of their topics, and
   the N signed callbacks of ``lead.assigned`` received by a loopback receiver (the reps' tool).
   Meanwhile the CPU of every process of the stack is read from /proc (bench/_machine.py: the
   services, PostgreSQL, Kafka; not this load generator nor the receiver): CPU per lead.
It prints leads/s for both, their ratio and µs of CPU per lead. Figures vary with the
machine's load: compare the ratio, and run it more than once.
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
from _callback_receiver import Receivers
from _machine import PARTS, StackCpu, budget_row, per_lead_us
from _stack import arguments, stack_env, wait_consumed, write_report
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_router.callbacks import repository
from handoff_router.callbacks.signing import SecretBox, new_secret
from handoff_shared.db import make_engine, make_sessions, transaction
from handoff_shared.kafka import partitions_of
from pydantic import SecretStr
from sqlalchemy import text

PARTITIONS = 4
IDLE_SECONDS = 5.0


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


async def give_secrets(env: dict[str, str], tag: str) -> None:
    """A signing secret for each of the run's reps, so their callbacks are sent (a rep without
    one gets none)."""
    engine = make_engine(env["HANDOFF_DATABASE_URL"], pool_size=1)
    box = SecretBox(SecretStr(env["HANDOFF_CALLBACK_SECRETS_KEY"]))
    now = datetime.now(UTC)
    try:
        async with transaction(make_sessions(engine)) as session:
            for rep in bench_config(tag)["reps"]:
                await repository.store_secret(
                    session, f"rep:{rep['id']}", box.seal(new_secret()), now, now - now
                )
    finally:
        await engine.dispose()


async def router_rate(env: dict[str, str], n: int, receiver: Receivers) -> dict[str, Any]:
    """Leads/s from ``mql.created`` produced until the whole stack is done with them (assigned,
    consumed by the sla-monitor and feedback, called back), and the stack's CPU per lead."""
    tag = uuid.uuid4().hex[:8]
    await put_bench_config(env, tag, receiver.url("").rstrip("/"))
    await give_secrets(env, tag)
    bootstrap = env["HANDOFF_KAFKA_BOOTSTRAP"]
    await wait_consumed(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    out = await tail(bootstrap, "lead.assigned")
    records = [
        (f"lead-{i}-{tag}".encode(), mql(f"lead-{i}-{tag}", "DE" if i % 3 else "US")) for i in range(n)
    ]
    called_before = receiver.poll()
    with StackCpu() as quiet:  # what the stack uses doing nothing (polls, timers, the broker)
        await asyncio.sleep(IDLE_SECONDS)
        idle = {part: seconds / IDLE_SECONDS for part, seconds in quiet.seconds().items()}
    with StackCpu() as cpu:
        started = time.perf_counter()
        await produce(producer, "lead.mql-created", records)
        await count_until(out, {key for key, _ in records}, timeout=600)
        assigned = time.perf_counter() - started
        await wait_consumed(bootstrap)
        consumed = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while receiver.poll() - called_before < n and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        called = receiver.poll() - called_before
        # The receivers note the wall clock of each call: the last one's is when the N-th arrived.
        last_call = max((c.at for c in receiver.calls[called_before:]), default=time.time())
        done = max(consumed, last_call - (time.time() - (time.perf_counter() - started)))
        used = cpu.seconds()
    await out.stop()
    await producer.stop()
    if called < n:
        print(f"only {called} of {n} callbacks arrived in 600 s")
    return {
        "leads_per_s": n / done,
        "assigned_per_s": n / assigned,
        "callbacks": called,
        "cpu_us_per_lead": per_lead_us(used, n),
        "idle_us_per_lead": per_lead_us({part: rate * done for part, rate in idle.items()}, n),
        "seconds": done,
    }


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
    relay_rates: list[float] = []
    results: list[dict[str, Any]] = []
    rows = []
    receiver = await Receivers(2).start()
    try:
        for run in range(1, runs + 1):
            relay = await relay_ceiling(env["HANDOFF_KAFKA_BOOTSTRAP"], n)
            result = await router_rate(env, n, receiver)
            relay_rates.append(relay)
            results.append(result)
            routed, cpu = result["leads_per_s"], result["cpu_us_per_lead"]
            print(
                f"run {run}: bare relay {relay:8.0f} msgs/s   stack {routed:8.0f} leads/s   "
                f"ratio {routed / relay:.2f}   CPU per lead {cpu['total']:,.0f} µs ({budget_row(cpu)}), "
                f"of which idle {result['idle_us_per_lead']['total']:,.0f} µs"
            )
            rows.append(
                f"| {run} | {relay:,.0f} | {result['assigned_per_s']:,.0f} | {routed:,.0f} | "
                f"{routed / relay:.2f} | {cpu['total']:,.0f} | {result['idle_us_per_lead']['total']:,.0f} | "
                + " | ".join(f"{cpu[part]:,.0f}" for part in PARTS)
                + " |"
            )
    finally:
        await receiver.stop()
    middle = sorted(range(runs), key=lambda i: results[i]["leads_per_s"] / relay_rates[i])[runs // 2]
    relay_median = sorted(relay_rates)[runs // 2]
    router_median = sorted(r["leads_per_s"] for r in results)[runs // 2]
    ratio = sorted(r["leads_per_s"] / relay for r, relay in zip(results, relay_rates, strict=True))[runs // 2]
    cpu_median = {
        part: sorted(r["cpu_us_per_lead"][part] for r in results)[runs // 2] for part in (*PARTS, "total")
    }
    idle_median = sorted(r["idle_us_per_lead"]["total"] for r in results)[runs // 2]
    markdown = "\n".join(
        [
            "## Routing throughput beside a bare relay, and the machine's CPU per lead",
            "",
            f"{n:,} `mql.created` per run, produced as fast as the producer goes; the clock stops when the "
            "stack of `make up` is done with all of them: every `lead.assigned` read, the sla-monitor's and "
            "feedback's consumer groups committed to the end of their topics, and every signed callback "
            "of `lead.assigned` received by a loopback receiver (2 processes). The ceiling: a bare "
            f"aiokafka consume-parse-produce relay on the same broker, {n:,} records, in the same run "
            f"({PARTITIONS} partitions). CPU per lead: user and system time of every process of the "
            "stack (the three services, PostgreSQL with its backends, Kafka; from /proc; the load "
            "generator and the receiver excluded) over the run, divided by the leads; 'of which idle' is "
            f"what the same processes use doing nothing (measured for {IDLE_SECONDS:g} s before the run: "
            "polls, timers, the broker) over as long as the run took.",
            "",
            "| run | bare relay (msgs/s) | assigned (leads/s) | all done (leads/s) | ratio "
            "| CPU per lead (µs) | of which idle | " + " | ".join(PARTS) + " |",
            "|---|---|---|---|---|---|---|" + "---|" * len(PARTS),
            *rows,
            f"| **median** | **{relay_median:,.0f}** | | **{router_median:,.0f}** | **{ratio:.2f}** "
            f"| **{cpu_median['total']:,.0f}** | {idle_median:,.0f} | "
            + " | ".join(f"{cpu_median[part]:,.0f}" for part in PARTS)
            + " |",
            "",
            f"Goals: at least 0.5 of the relay ({'reached' if ratio >= 0.5 else 'not reached'}, "
            f"{ratio:.2f}); at most 500 µs of machine CPU per lead "
            f"({'reached' if cpu_median['total'] <= 500 else 'not reached'}, {cpu_median['total']:,.0f} µs).",
        ]
    )
    figures = {
        "leads_per_run": n,
        "relay_msgs_per_s": relay_rates,
        "runs": results,
        "relay_median": relay_median,
        "router_median": router_median,
        "ratio": ratio,
        "median_run": middle + 1,
        "cpu_us_per_lead_median": cpu_median,
    }
    write_report(report, "routing_throughput", markdown, figures)


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.quick:  # three runs still: the figures are the medians
        args.leads = min(args.leads, 1_000)
    asyncio.run(main(args.leads, args.runs, args.report))
