"""The sla-monitor's scanner against 1,000,000 open timers on the stack's PostgreSQL.

Measures, with the scanner of the service's own code (``Timers.scan_once``) in this process:
- the cost of one scan batch (claim 1,000 due timers with SKIP LOCKED, fire a step each,
  record it, write lead.escalated to the outbox, advance the timers, commit) when 10k, 100k
  and 1M timers are open: it should stay flat, since the claim walks the next-fire-time index.
  Each size first runs 2 unmeasured batches (a cold first batch, with the plan and the pages
  not yet cached, once read as a 10k cost twice the 1M one), then reports the median of 7
  measured batches; flatness is the ratio of the 1M cost to the 10k one (100k/10k with --quick);
- escalations fired per second, draining a backlog of due timers with 1M open: escalations
  *written* (each fired step recorded and its lead.escalated in the outbox, committed), not
  published to Kafka: publishing is the outbox relay's work, measured by no figure here;
  (each batch is one SQL statement: repository.fire_due; SLA_BENCH_BATCH=5000 tries larger batches)
- how late steps fire (p50/p99) when timers fall due at a steady rate and the scanner polls
  every 250 ms, as the service does.

The stack's own sla-monitor is paused (SIGSTOP) meanwhile so that it neither competes nor
publishes the benchmark's escalations; every row the benchmark wrote (ids ``bench-...``,
their outbox rows) is deleted at the end and the service resumed (SIGCONT).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from _stack import ROOT, arguments, percentile, stack_env, write_report
from handoff_shared import db
from handoff_sla_monitor.tables import escalations, outbox, timers
from handoff_sla_monitor.timers.records import with_fragments
from handoff_sla_monitor.timers.service import Timers
from sqlalchemy import delete, func, select, text

BATCH = int(os.environ.get("SLA_BENCH_BATCH", "1000"))  # the service's HANDOFF_SLA_SCAN_BATCH default
FAR = datetime.now(UTC) + timedelta(days=30)


def timer_rows(
    prefix: str, start: int, count: int, fire_at: datetime, spread: float = 0.0
) -> list[dict[str, Any]]:
    rows = []
    for number in range(start, start + count):
        at = fire_at + timedelta(seconds=spread * (number - start) / max(count, 1))
        assignment_id = f"bench-{prefix}-{number}"
        rows.append(
            {
                "assignment_id": assignment_id,
                "lead_id": f"bench-lead-{prefix}-{number}",
                "rep_id": f"bench-rep-{number % 50}",
                "team_id": "bench-team",
                "manager_id": "bench-mgr",
                "attempt": 1,
                "status": "open",
                "assigned_at": at - timedelta(hours=1),
                "sla_due_at": at + timedelta(hours=1),
                "steps": [
                    {"index": 0, "level": "remind", "percent": 50.0, "fire_at": at.isoformat()},
                    {
                        "index": 1,
                        "level": "escalate",
                        "percent": 100.0,
                        "fire_at": (at + timedelta(hours=1)).isoformat(),
                    },
                ],
                "next_step": 0,
                "next_fire_at": at,
                "terms": {"max_reassignments": 2},
            }
        )
        with_fragments(rows[-1])  # as the service opens timers: each step's event written ahead
    return rows


async def load(sessions: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 50_000):
        async with db.transaction(sessions) as session:
            await db.copy_rows(session, timers, rows[start : start + 50_000])


async def open_count(sessions: Any) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(timers).where(timers.c.status == "open"))
            or 0
        )


WARMUP_BATCHES = 2
MEASURED_BATCHES = 7


async def scan_cost(service: Timers, sessions: Any, label: str) -> list[float]:
    """Seconds of each of ``MEASURED_BATCHES`` full batches, after ``WARMUP_BATCHES`` unmeasured
    ones, with that many batches of due timers waiting."""
    batches = WARMUP_BATCHES + MEASURED_BATCHES
    await load(
        sessions, timer_rows(f"due{label}", 0, BATCH * batches, datetime.now(UTC) - timedelta(minutes=1))
    )
    for _ in range(WARMUP_BATCHES):
        assert await service.scan_once(BATCH) == BATCH
    seconds = []
    for _ in range(MEASURED_BATCHES):
        started = time.perf_counter()
        claimed = await service.scan_once(BATCH)
        seconds.append(time.perf_counter() - started)
        assert claimed == BATCH, claimed
    return seconds


async def drain_rate(service: Timers, sessions: Any, count: int) -> tuple[float, int]:
    await load(sessions, timer_rows("burst", 0, count, datetime.now(UTC) - timedelta(minutes=1)))
    started = time.perf_counter()
    fired = 0
    while (claimed := await service.scan_once(BATCH)) > 0:
        fired += claimed
    return fired / (time.perf_counter() - started), fired


async def lateness(service: Timers, sessions: Any, rate: int, seconds: int) -> list[float]:
    """Timers falling due at ``rate``/s for ``seconds``; the scanner loop of the service."""
    count = rate * seconds
    # Loading takes a while on a busy machine: the first timer falls due only after it.
    first = datetime.now(UTC) + timedelta(seconds=3 + count / 1000)
    await load(sessions, timer_rows("steady", 0, count, first, spread=seconds))
    end = first + timedelta(seconds=seconds + 5)
    while datetime.now(UTC) < end:
        claimed = await service.scan_once(BATCH)
        if claimed < BATCH:
            await asyncio.sleep(0.25)
    async with sessions() as session:
        rows = await session.execute(
            select(escalations.c.fired_at, escalations.c.planned_at).where(
                escalations.c.assignment_id.like("bench-steady-%")
            )
        )
        return [(fired - planned).total_seconds() for fired, planned in rows]


async def clean(sessions: Any, outbox_before: int) -> None:
    async with db.transaction(sessions) as session:
        await session.execute(delete(escalations).where(escalations.c.assignment_id.like("bench-%")))
        await session.execute(delete(timers).where(timers.c.assignment_id.like("bench-%")))
        await session.execute(delete(outbox).where(outbox.c.id > outbox_before, outbox.c.sent_at.is_(None)))
    await maintain(sessions, "VACUUM ANALYZE sla_monitor.timers")


async def maintain(sessions: Any, statement: str) -> None:
    bind = sessions.kw["bind"]
    async with bind.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(statement))


def pause_service() -> int | None:
    pid_file = ROOT / ".run" / "pids" / "sla-monitor.pid"
    with suppress(OSError, ValueError):
        group = os.getpgid(int(pid_file.read_text().strip()))  # uv and the python it runs
        os.killpg(group, signal.SIGSTOP)
        return group
    return None


async def run(quick: bool) -> tuple[str, dict[str, Any]]:
    env = stack_env()
    engine = db.make_engine(env["HANDOFF_DATABASE_URL"], pool_size=4, schema="sla_monitor")
    sessions = db.make_sessions(engine)
    service = Timers(sessions, "bench/sla-monitor", "lead.escalated")
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    async with sessions() as session:
        outbox_before = int(await session.scalar(select(func.coalesce(func.max(outbox.c.id), 0))) or 0)
    paused = pause_service()
    figures: dict[str, Any] = {"scan_batch_seconds": {}}
    try:
        await clean(sessions, outbox_before)
        baseline = await open_count(sessions)
        loaded = 0
        for size in sizes:
            await load(sessions, timer_rows("open", loaded, size - loaded, FAR))
            loaded = size
            await maintain(sessions, "ANALYZE sla_monitor.timers")
            each = await scan_cost(service, sessions, str(size))
            cost = statistics.median(each)
            figures["scan_batch_seconds"][size] = cost
            figures.setdefault("scan_batch_seconds_each", {})[size] = each
            print(
                f"{size:>9} open timers: one scan batch of {BATCH} due = {cost * 1000:.1f} ms median"
                f" ({min(each) * 1000:.1f}-{max(each) * 1000:.1f} ms over {len(each)} batches)"
            )
        burst = 20_000 if quick else 100_000
        rate, fired = await drain_rate(service, sessions, burst)
        figures["escalations_per_second"] = rate
        figures["open_timers"] = await open_count(sessions) - baseline
        print(
            f"drained {fired} due timers with {figures['open_timers']} open:"
            f" {rate:.0f} escalations/s written to the outbox (not published)"
        )
        steady_rate, steady_seconds = (1000, 5) if quick else (2000, 10)
        late = await lateness(service, sessions, steady_rate, steady_seconds)
        figures["lateness"] = {
            "rate_per_second": steady_rate,
            "seconds": steady_seconds,
            "fired": len(late),
            "p50": percentile(late, 50),
            "p99": percentile(late, 99),
        }
        print(f"steady {steady_rate}/s: p50 {percentile(late, 50):.3f}s p99 {percentile(late, 99):.3f}s late")
    finally:
        await clean(sessions, outbox_before)
        if paused is not None:
            os.killpg(paused, signal.SIGCONT)
        await engine.dispose()
    costs = figures["scan_batch_seconds"]
    each = figures["scan_batch_seconds_each"]
    smallest, largest = min(costs), max(costs)
    flat = costs[largest] / costs[smallest]
    figures["scan_cost_ratio_largest_to_smallest"] = flat
    lines = [
        "## SLA scanner (bench/sla_scanner.py)",
        "",
        "Timers loaded into `sla_monitor.timers`; the service's own scanner in process, batches of"
        f" {BATCH} (each: claim with SKIP LOCKED, fire, record, outbox, advance, commit); the stack's"
        f" sla-monitor paused. Scan cost: the median of {MEASURED_BATCHES} batches after"
        f" {WARMUP_BATCHES} unmeasured ones, per size. Escalations/s counts escalations written"
        " (recorded, and their `lead.escalated` in the outbox, committed), not published to Kafka.",
        "",
        "| figure | value |",
        "|---|---|",
        *(
            f"| one scan batch, {size:,} open timers, median (min-max) | {cost * 1000:.1f} ms"
            f" ({min(each[size]) * 1000:.1f}-{max(each[size]) * 1000:.1f} ms) |"
            for size, cost in costs.items()
        ),
        f"| scan cost {largest:,} / {smallest:,} open timers | {flat:.2f} |",
        f"| escalations written per second ({burst:,} due, {figures['open_timers']:,} open) | {rate:,.0f} |",
        f"| lateness at {steady_rate}/s for {steady_seconds}s, p50 / p99 | "
        f"{figures['lateness']['p50']:.3f} s / {figures['lateness']['p99']:.3f} s |",
        "",
        f"Goal at least 5,000 escalations/s: {'reached' if rate >= 5000 else 'not reached'}. "
        f"Scan cost flat as open timers grow ({largest:,} / {smallest:,} under 2):"
        f" {'reached' if flat < 2 else 'not reached'}.",
    ]
    return "\n".join(lines), figures


def main() -> None:
    args = arguments(__doc__).parse_args()
    markdown, figures = asyncio.run(run(args.quick))
    write_report(args.report, "sla_scanner", markdown, figures)


if __name__ == "__main__":
    main()
