"""Latency at steady offered loads: ``mql.created`` sent to ``lead.assigned`` received.

    make up && uv run python bench/routing_latency.py [--seconds 10] [--rates 300,1000,3000] [--report DIR]

For each rate, MQLs are produced on a fixed 10 ms schedule for ``--seconds`` seconds; each
one's latency is the time from handing it to the producer to reading its ``lead.assigned``
(one clock, this process). A rate the router cannot keep up with shows as a growing p99.
Goal: p99 under 50 ms at 300 leads/s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from pathlib import Path

import orjson
from _stack import arguments, percentile, stack_env, write_report
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from routing_throughput import forget_callbacks, mql, put_bench_config, tail

TICK = 0.01


async def receive(
    consumer: AIOKafkaConsumer,
    sent: dict[bytes, float],
    received: dict[bytes, float],
    all_sent: asyncio.Event,
    routed_at: dict[bytes, float],
) -> None:
    """Note when each lead's ``lead.assigned`` arrives, until every lead sent has one, and the
    router's ``assigned_at`` in it (wall clock, to split the latency at the router's decision)."""
    while not (all_sent.is_set() and len(received.keys() & sent.keys()) >= len(sent)):
        for records in (await consumer.getmany(timeout_ms=50, max_records=5000)).values():
            now = time.perf_counter()
            for record in records:
                if record.key is not None and record.key not in received:
                    received[record.key] = now
                    if record.key in sent and record.value is not None:
                        assigned_at = orjson.loads(record.value)["data"]["assigned_at"]
                        routed_at[record.key] = datetime.fromisoformat(assigned_at).timestamp()


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
    routed_at: dict[bytes, float] = {}
    all_sent = asyncio.Event()
    receiver = asyncio.create_task(receive(consumer, sent, received, all_sent, routed_at))
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
    all_sent.set()
    try:
        await asyncio.wait_for(receiver, timeout=120)
    except TimeoutError:
        print(f"{len(sent) - len(received.keys() & sent.keys())} leads not assigned after 120 s")
    await consumer.stop()
    await producer.stop()
    await forget_callbacks(env, tag)  # never sent (no secret), they would slow later claims
    latencies = [(received[key] - at) * 1000 for key, at in sent.items() if key in received]
    # The two halves: sent -> the router's assigned_at (fetch, decode, decision), and assigned_at
    # -> received (the rest of the transaction, commit, outbox relay, broker, this consumer).
    to_decision = [(routed_at[key] - sent_wall[key]) * 1000 for key in routed_at]
    after_decision = [
        (received[key] - sent[key]) * 1000 - (routed_at[key] - sent_wall[key]) * 1000 for key in routed_at
    ]
    return {
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
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms; "
            f"to the decision p50/p99 {result['to_decision_p50_ms']:.1f}/"
            f"{result['to_decision_p99_ms']:.1f} ms, "
            f"after it {result['after_decision_p50_ms']:.1f}/{result['after_decision_p99_ms']:.1f} ms"
        )
    rows = [
        f"| {r['offered']:,} | {r['achieved']:,.0f} | {r['received']:,}/{r['sent']:,} | {r['p50_ms']:.1f} | "
        f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | "
        f"{r['to_decision_p50_ms']:.1f} / {r['to_decision_p99_ms']:.1f} | "
        f"{r['after_decision_p50_ms']:.1f} / {r['after_decision_p99_ms']:.1f} |"
        for r in results
    ]
    at_300 = next((r for r in results if r["offered"] == 300), None)
    verdict = (
        f"Goal p99 < 50 ms at 300/s: {'reached' if at_300['p99_ms'] < 50 else 'not reached'} "
        f"({at_300['p99_ms']:.1f} ms)."
        if at_300
        else ""
    )
    markdown = "\n".join(
        [
            "## Latency: `mql.created` sent → `lead.assigned` received",
            "",
            f"Steady offered load, {seconds:g} s per rate, produced on a 10 ms schedule; one clock. "
            "'To the decision' is sent → the router's `assigned_at` (fetch, decode, routing); 'after it' "
            "is the rest (the transaction's writes and commit, the outbox relay, the broker, the reader).",
            "",
            "| offered (leads/s) | sent (leads/s) | assigned/sent "
            "| p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | to the decision p50 / p99 | after it p50 / p99 |",
            "|---|---|---|---|---|---|---|---|---|",
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
    seconds = 4.0 if args.quick else args.seconds
    asyncio.run(main([int(r) for r in args.rates.split(",")], seconds, args.report))
