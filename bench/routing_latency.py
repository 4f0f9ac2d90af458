"""Latency at steady offered loads: ``mql.created`` sent to ``lead.assigned`` received.

    make up && uv run python bench/routing_latency.py [--seconds 10] [--rates 300,1000,3000] [--report DIR]

For each rate, MQLs are produced on a fixed 10 ms schedule for ``--seconds`` seconds; each
one's latency is the time from handing it to the producer to reading its ``lead.assigned``
(one clock, this process). A rate the router cannot keep up with shows as a growing p99, and
the table says the rate actually routed (``lead.assigned`` read per second while sending),
beside the rate offered: a goal "at 300 leads/s" is judged on a row that routed 300 leads/s.

The latency is split where the decision becomes real, the commit of the routing transaction
(PostgreSQL's commit timestamp of the assignment's row; the stack runs with
``track_commit_timestamp``): before it, the fetch, the wait for the batch ahead, decoding,
routing and the writes; after it, the outbox relay, the broker and this reader.
Goal: p99 under 50 ms at 300 leads/s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from _stack import arguments, percentile, stack_env, write_report
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from handoff_shared.db import make_engine
from routing_throughput import forget_callbacks, mql, put_bench_config, tail
from sqlalchemy import text

TICK = 0.01


async def receive(
    consumer: AIOKafkaConsumer,
    sent: dict[bytes, float],
    received: dict[bytes, float],
    all_sent: asyncio.Event,
) -> None:
    """Note when each lead's ``lead.assigned`` arrives, until every lead sent has one."""
    while not (all_sent.is_set() and len(received.keys() & sent.keys()) >= len(sent)):
        for records in (await consumer.getmany(timeout_ms=50, max_records=5000)).values():
            now = time.perf_counter()
            for record in records:
                if record.key is not None and record.key not in received:
                    received[record.key] = now


async def committed_at(database_url: str, tag: str) -> dict[bytes, float]:
    """Each lead's commit of its routing transaction (wall clock), from PostgreSQL; empty when
    the database does not track commit timestamps."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            if await connection.scalar(text("SHOW track_commit_timestamp")) != "on":
                return {}
            rows = await connection.execute(
                text(
                    "SELECT lead_id, extract(epoch FROM pg_xact_commit_timestamp(xmin))"
                    " FROM router.assignments WHERE lead_id LIKE :like AND attempt = 1"
                ),
                {"like": f"lat-%-{tag}"},
            )
            return {lead_id.encode(): float(at) for lead_id, at in rows if at is not None}
    finally:
        await engine.dispose()


async def steady(env: dict[str, str], rate: int, seconds: float) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    await put_bench_config(env, tag)
    bootstrap = env["HANDOFF_KAFKA_BOOTSTRAP"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=1)
    await producer.start()
    consumer = await tail(bootstrap, "lead.assigned")
    sent: dict[bytes, float] = {}
    sent_wall: dict[bytes, float] = {}
    received: dict[bytes, float] = {}
    all_sent = asyncio.Event()
    receiver = asyncio.create_task(receive(consumer, sent, received, all_sent))
    per_tick = rate * TICK
    started = time.perf_counter()
    owed = 0.0
    i = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        owed = rate * elapsed - i
        while owed >= 1:
            lead_id = f"lat-{i}-{tag}"
            key = lead_id.encode()
            sent[key] = time.perf_counter()
            sent_wall[key] = time.time()
            await producer.send("lead.mql-created", mql(lead_id, "DE" if i % 3 else "US"), key=key)
            i += 1
            owed -= 1
        await asyncio.sleep(TICK if per_tick >= 1 else 1 / rate)
    await producer.flush()
    sending = time.perf_counter() - started
    all_sent.set()
    try:
        await asyncio.wait_for(receiver, timeout=120)
    except TimeoutError:
        print(f"{len(sent) - len(received.keys() & sent.keys())} leads not assigned after 120 s")
    await consumer.stop()
    await producer.stop()
    await forget_callbacks(env, tag)  # never sent (no secret), they would slow later claims
    latencies = [(received[key] - at) * 1000 for key, at in sent.items() if key in received]
    # Read while sending: the rate the router kept up with (what it routed, not what was offered).
    routed = sum(1 for key, at in received.items() if key in sent and at - started <= sending) / sending
    # The two halves, split at the routing transaction's commit: sent -> committed (fetch, the
    # batch ahead, decode, routing, writes, commit) and committed -> received (outbox relay,
    # broker, this reader). One wall clock: this process's and PostgreSQL's, on one machine.
    commits = await committed_at(env["HANDOFF_DATABASE_URL"], tag)
    split = [key for key in commits if key in received and key in sent_wall]
    to_decision = [(commits[key] - sent_wall[key]) * 1000 for key in split]
    after_decision = [
        (received[key] - sent[key]) * 1000 - (commits[key] - sent_wall[key]) * 1000 for key in split
    ]
    return {
        "routed": routed,
        "to_decision_p50_ms": percentile(to_decision, 50),
        "to_decision_p99_ms": percentile(to_decision, 99),
        "after_decision_p50_ms": percentile(after_decision, 50),
        "after_decision_p99_ms": percentile(after_decision, 99),
        "offered": rate,
        "sent": len(sent),
        "received": len(latencies),
        "achieved": len(sent) / seconds,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
    }


async def main(rates: list[int], seconds: float, report: Path | None) -> None:
    env = stack_env()
    results = []
    for rate in rates:
        result = await steady(env, rate, seconds)
        results.append(result)
        print(
            f"{rate:>5}/s offered: sent {result['sent']}, received {result['received']}, "
            f"routed {result['routed']:.0f}/s, "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms; "
            f"to the commit p50/p99 {result['to_decision_p50_ms']:.1f}/"
            f"{result['to_decision_p99_ms']:.1f} ms, "
            f"after it {result['after_decision_p50_ms']:.1f}/{result['after_decision_p99_ms']:.1f} ms"
        )
    rows = [
        f"| {r['offered']:,} | {r['achieved']:,.0f} | {r['routed']:,.0f} | {r['received']:,}/{r['sent']:,} "
        f"| {r['p50_ms']:.1f} | "
        f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | "
        f"{r['to_decision_p50_ms']:.1f} / {r['to_decision_p99_ms']:.1f} | "
        f"{r['after_decision_p50_ms']:.1f} / {r['after_decision_p99_ms']:.1f} |"
        for r in results
    ]
    at_300 = next((r for r in results if r["offered"] == 300), None)
    verdict = (
        f"Goal p99 < 50 ms at 300 leads/s routed: "
        f"{'reached' if at_300['p99_ms'] < 50 and at_300['routed'] >= 0.97 * 300 else 'not reached'} "
        f"({at_300['p99_ms']:.1f} ms, {at_300['routed']:,.0f} leads/s routed)."
        if at_300
        else ""
    )
    markdown = "\n".join(
        [
            "## Latency: `mql.created` sent → `lead.assigned` received",
            "",
            f"Steady offered load, {seconds:g} s per rate, produced on a 10 ms schedule; one clock. "
            "'Routed' is `lead.assigned` read per second while sending. The split is at the routing "
            "transaction's commit (PostgreSQL's commit timestamp of the assignment): 'to the commit' is "
            "the fetch, the batch ahead, decoding, routing and the writes; 'after it' is the outbox "
            "relay, the broker and the reader.",
            "",
            "| offered (leads/s) | sent (leads/s) | routed (leads/s) | assigned/sent "
            "| p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | to the commit p50 / p99 | after it p50 / p99 |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            verdict,
        ]
    )
    write_report(report, "routing_latency", markdown, {"results": results})


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="300,1000,3000")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    rates = [int(r) for r in args.rates.split(",")]
    if args.quick:  # the goal's rate and one above it
        rates = [r for r in rates if r <= 1000]
    asyncio.run(main(rates, seconds, args.report))
