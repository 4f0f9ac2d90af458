"""Callback delivery: throughput to a local receiver, and latency at a steady lead rate,
beside a bare httpx client's rate to the same receiver in the same run.

    make up && uv run python bench/callback_delivery.py [--deliveries N] [--rate 300] [--seconds 20]

1. Ceiling: a bare httpx AsyncClient (128 concurrent POSTs, keep-alive) to the receiver.
2. Throughput: N deliveries written at once to the router's tables (as routing writes
   them); the router of ``make up`` signs and POSTs them; the clock stops at the N-th call.
3. Latency: MQLs produced at ``--rate`` per second for ``--seconds``; for each lead, from
   ``assigned_at`` of its ``lead.assigned`` (set in the routing transaction, just before it
   commits) to the callback arriving at the receiver, and from the ``mql.created`` sent to
   it (the MQL -> callback figure). p50 and p99.
The receiver is ``--receivers`` separate processes (default 2) sharing one loopback port
(SO_REUSEPORT): a minimal HTTP/1.1 keep-alive server on asyncio that answers 200 at once and
notes each call's arrival (wall clock, webhook-id, subject, assigned_at) in a file this
process reads. It answers several thousand requests/s, so it is not what is measured (the
in-process test receiver topped out near 200/s); see bench/_callback_receiver.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml
from aiokafka import AIOKafkaProducer
from handoff_router.callbacks import repository
from handoff_router.callbacks.signing import SecretBox, new_secret
from handoff_shared.db import make_engine, make_sessions, transaction
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _callback_receiver import Receivers  # noqa: E402
from _stack import arguments, percentile, stack_env, write_report  # noqa: E402
from routing_throughput import mql  # noqa: E402

REPS = 20


def config(tag: str, receiver: Receivers) -> dict[str, object]:
    reps = [f"{tag}-rep-{n}" for n in range(REPS)]
    return {
        "reps": [
            {"id": rep, "email": f"{rep}@example.com", "callback_url": receiver.url(rep)} for rep in reps
        ],
        "teams": [{"id": f"{tag}-team", "members": reps}],
        "rules": [],
        "fallback_team": f"{tag}-team",
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def router_pid() -> int | None:
    """The stack's router process (``.run/pids/router.pid`` is ``uv run``; its child is Python)."""
    path = ROOT / ".run" / "pids" / "router.pid"
    if not path.exists():
        return None
    parent = path.read_text().strip()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[1] == parent:
            return int(stat.parent.name)
    return int(parent)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def ceiling(receiver: Receivers, reps: list[str], count: int) -> tuple[float, float]:
    """Bare httpx POSTs to the receiver, 128 at a time, a keep-alive client per endpoint (as the
    router's sender has): the most an httpx client gets here."""
    body = b'{"type":"bench"}'
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    clients = {rep: httpx.AsyncClient(limits=limits) for rep in reps}
    queue = list(range(count))

    async def worker(rep: str) -> None:
        while queue:
            queue.pop()
            await clients[rep].post(receiver.url(rep), content=body)

    try:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(reps[n % len(reps)]) for n in range(128)))
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count
    finally:
        for client in clients.values():
            await client.aclose()


async def commits(engine: AsyncEngine) -> int:
    """Transactions committed in the database so far (every client's; PostgreSQL's statistics)."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = await connection.scalar(
            text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(found or 0)


async def throughput(
    env: dict[str, str], receiver: Receivers, reps: list[str], count: int
) -> tuple[float, float, float]:
    """Deliveries written at once; the router sends them all. Answers deliveries/s, the
    router's CPU seconds per delivery meanwhile (less load-dependent than the rate), and the
    database transactions committed per delivery meanwhile (by anyone: the stack is idle)."""
    engine = make_engine(env["HANDOFF_DATABASE_URL"], pool_size=1)
    box = SecretBox(SecretStr(env["HANDOFF_CALLBACK_SECRETS_KEY"]))
    before = receiver.poll()
    now = datetime.now(UTC)
    rows = [
        repository.NewDelivery(
            kind="rep",
            owner_id=reps[n % len(reps)],
            url=receiver.url(reps[n % len(reps)]),
            event_id=str(uuid.uuid4()),
            event_type="lead.assigned",
            lead_id=f"bench-{n}",
            body=json.dumps({"type": "lead.assigned", "n": n, "pad": "x" * 1500}).encode(),
            created_at=now,
        )
        for n in range(count)
    ]
    try:
        async with transaction(make_sessions(engine)) as session:
            for rep in reps:
                await repository.store_secret(session, f"rep:{rep}", box.seal(new_secret()), now, now - now)
        pid = router_pid()
        committed = await commits(engine)
        started, cpu = time.perf_counter(), cpu_seconds(pid)
        async with transaction(make_sessions(engine)) as session:
            await repository.enqueue(session, rows)
        async with httpx.AsyncClient(base_url=env["HANDOFF_ROUTER_URL"], timeout=30) as router:
            with contextlib.suppress(httpx.HTTPError):  # a busy router still finds them by polling
                await router.post("/v1/deliveries/none/redeliver")  # any POST wakes the worker at once
        while receiver.poll() - before < count:  # noqa: ASYNC110 (the receivers are other processes)
            await asyncio.sleep(0.05)
        # The receivers note the wall clock of each call: the last one's is when the N-th arrived.
        used = cpu_seconds(pid) - cpu
        last = max(call.at for call in receiver.calls[before:])
        rate = count / (last - (time.time() - (time.perf_counter() - started)))
        await asyncio.sleep(1.5)  # backends report their counts to the statistics within a second
        return rate, used / count, (await commits(engine) - committed) / count
    finally:
        await engine.dispose()


async def latency(
    env: dict[str, str], receiver: Receivers, rate: int, seconds: int
) -> tuple[list[float], list[float], float]:
    """Seconds from ``assigned_at`` to the callback's arrival, and from the ``mql.created`` sent
    to it (both on the wall clock of this machine), per lead, at ``rate`` leads/s; and the
    router's CPU seconds per lead meanwhile (routing and callback: what decides whether the
    router keeps up with ``rate`` on the CPU it gets, however busy the machine)."""
    pid = router_pid()
    cpu = cpu_seconds(pid)
    arrived: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    producer = AIOKafkaProducer(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], acks="all")
    await producer.start()
    leads: list[str] = []
    topic = env.get("HANDOFF_TOPIC_MQL_CREATED", "lead.mql-created")
    try:
        started = time.monotonic()
        for n in range(rate * seconds):
            lead_id = f"bench-{uuid.uuid4().hex[:12]}"
            leads.append(lead_id)
            sent_at[lead_id] = time.time()
            await producer.send(topic, mql(lead_id, "US"), key=lead_id.encode())
            due = started + (n + 1) / rate
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
        await producer.flush()
    finally:
        await producer.stop()
    wanted = set(leads)
    deadline = time.monotonic() + 120
    samples: list[float] = []
    from_mql: list[float] = []
    read = 0
    while time.monotonic() < deadline:
        receiver.poll()
        calls, read = receiver.calls[read:], len(receiver.calls)
        for call in calls:
            subject = call.subject
            if subject in wanted and subject not in arrived:
                arrived[subject] = call.at
                samples.append(call.at - datetime.fromisoformat(call.assigned_at).timestamp())
                from_mql.append(call.at - sent_at[subject])
        if len(arrived) == len(wanted):
            break
        await asyncio.sleep(0.2)
    print(f"  {len(arrived)}/{len(wanted)} callbacks arrived")
    return samples, from_mql, (cpu_seconds(pid) - cpu) / max(len(arrived), 1)


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--receivers", type=int, default=2, help="receiver processes (loopback)")
    args = parser.parse_args()
    if args.quick:
        args.deliveries, args.seconds = 500, 5
    env = stack_env()
    receiver = await Receivers(args.receivers).start()
    tag = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        headers = {"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"}
        async with httpx.AsyncClient(base_url=env["HANDOFF_ROUTER_URL"], headers=headers) as admin:
            previous = (await admin.get("/v1/routing-config", headers={"Accept": "application/yaml"})).text
            response = await admin.put(
                "/v1/routing-config",
                content=yaml.safe_dump(config(tag, receiver)),
                headers={"Content-Type": "application/yaml"},
            )
            response.raise_for_status()
            reps = [f"{tag}-rep-{n}" for n in range(REPS)]
            bare, bare_cpu = await ceiling(receiver, reps, args.deliveries)
            rate, router_cpu, per_delivery = await throughput(env, receiver, reps, args.deliveries)
            samples, from_mql, lead_cpu = await latency(env, receiver, args.rate, args.seconds)
            if previous.strip() and not previous.lstrip().startswith("{"):
                await admin.put(
                    "/v1/routing-config", content=previous, headers={"Content-Type": "application/yaml"}
                )
    finally:
        await receiver.stop()
    if not samples:
        raise SystemExit("no callback arrived: is the stack up (make up)?")
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    mql_p50, mql_p99 = percentile(from_mql, 50) * 1000, percentile(from_mql, 99) * 1000
    worst = max(samples) * 1000
    per_core = 1 / router_cpu if router_cpu else 0.0
    figures = {
        "ceiling_posts_per_s": round(bare),
        "deliveries_per_s": round(rate),
        "ratio": round(rate / bare, 2),
        "bare_cpu_us_per_post": round(bare_cpu * 1e6),
        "router_cpu_us_per_delivery": round(router_cpu * 1e6),
        "router_deliveries_per_cpu_second": round(per_core),
        "db_transactions_per_delivery": round(per_delivery, 3),
        "load_average_1m": os.getloadavg()[0],
        "rate_leads_per_s": args.rate,
        "seconds": args.seconds,
        "router_cpu_us_per_lead": round(lead_cpu * 1e6),
        "latency_p50_ms": round(p50),
        "latency_p99_ms": round(p99),
        "latency_max_ms": round(max(samples) * 1000),
        "mql_to_callback_p50_ms": round(mql_p50),
        "mql_to_callback_p99_ms": round(mql_p99),
        "samples": len(samples),
    }
    markdown = f"""## Callback delivery

{args.deliveries} signed deliveries written at once, sent by the router of `make up` to a
loopback receiver ({args.receivers} processes, 20 endpoints); then MQLs at {args.rate} leads/s
for {args.seconds}s, timed from `assigned_at` of `lead.assigned` to the callback's arrival.

| figure | value |
|---|---|
| bare httpx to the receiver (ceiling) | {bare:,.0f} POSTs/s |
| router deliveries | {rate:,.0f} deliveries/s (ratio {rate / bare:.2f}) |
| CPU per POST: bare httpx / router | {bare_cpu * 1e6:,.0f} / {router_cpu * 1e6:,.0f} µs |
| so one idle core would send about | {per_core:,.0f} deliveries/s |
| database transactions per delivery | {per_delivery:.3f} (the enqueue, claims, records) |
| load average (1 min) at the end | {os.getloadavg()[0]:.1f} |
| router CPU per lead at {args.rate}/s (routing and callback) | {lead_cpu * 1e6:,.0f} µs |
| `assigned_at` → callback p50 / p99 / max | {p50:,.0f} / {p99:,.0f} / {worst:,.0f} ms (n={len(samples)}) |
| `mql.created` sent → callback p50 / p99 | {mql_p50:,.0f} / {mql_p99:,.0f} ms |

Goals: at least 1,000 deliveries/s: {"reached" if rate >= 1000 else "not reached"};
p99 under 500 ms at 300 leads/s: {"reached" if p99 < 500 and args.rate >= 300 else "not reached"};
`mql.created` → callback p99 under 250 ms at 300 leads/s (issue 16):
{"reached" if mql_p99 < 250 and args.rate >= 300 else "not reached"}.
"""
    write_report(args.report, "callback_delivery", markdown, figures)


if __name__ == "__main__":
    asyncio.run(main())
