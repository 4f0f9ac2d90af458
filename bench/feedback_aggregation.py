"""Feedback aggregation: lifecycle events aggregated per second with the service running, and
the time ``handoff-feedback rebuild`` takes over the topics.

    make up
    uv run python bench/feedback_aggregation.py [--leads 500000] [--no-rebuild] [--quick] [--report DIR]

It produces, per lead, ``lead.assigned`` and a decision (``lead.accepted`` or
``lead.rejected``), over 30 days in time order and 40 campaigns, then reads the feedback service's
``handoff_feedback_events_aggregated_total`` until it has grown by the number produced, and
prints events/s from the first produce to the last event counted. In the same run it
measures the core alone (merge + contributions per lead, in process) as the ceiling.
Then it times ``handoff-feedback rebuild`` over every record of the topics (unless
``--no-rebuild``) and prints
what 1,000,000 events take: measured when the topics hold that many (the default of 500,000
leads fills them; ``--quick`` does not), else extrapolated from the records per second, and
labelled so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
from _stack import arguments, stack_env, write_report
from aiokafka import AIOKafkaProducer
from handoff_feedback.outcomes.facts import Accepted, Assigned, Fact, LeadState, Mql, Rejected, apply_all
from handoff_feedback.outcomes.tally import contributions, delta

START = datetime(2026, 10, 1, tzinfo=UTC)
SPREAD = 30 * 24 * 3600  # the leads' MQL times cover 30 days


def envelope(type_: str, lead_id: str, data: dict[str, object]) -> bytes:
    return orjson.dumps(
        {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "bench", "type": type_,
         "time": datetime.now(UTC).isoformat(), "subject": lead_id,
         "datacontenttype": "application/json", "data": data}
    )  # fmt: skip


def events_of(n: int) -> list[tuple[str, str, bytes]]:
    # Due a year from now: the SLA monitor of the stack keeps a timer per lead, as in production,
    # but none fires during the run (a due time in the past would escalate every lead at once).
    due = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    found = []
    for i in range(n):
        lead_id = f"bench-{uuid.uuid4().hex[:12]}"
        at = START + timedelta(seconds=i * SPREAD / n)  # in time order, as a topic holds them
        lead = {"lead_id": lead_id, "email": "b@example.com", "source": f"src-{i % 5}",
                "campaign": f"camp-{i % 40}", "score": 50, "mql_at": at.isoformat()}  # fmt: skip
        base = {"assignment_id": f"asg-{lead_id}", "lead_id": lead_id, "rep_id": f"rep-{i % 12}"}
        assigned = {**base, "team_id": f"team-{i % 3}", "rule_id": "r", "attempt": 1,
                    "assigned_at": at.isoformat(), "sla_due_at": due,
                    "explanation": {"rule_id": "r"}, "lead": lead}  # fmt: skip
        found.append(("lead.assigned", lead_id, envelope("lead.assigned", lead_id, assigned)))
        later = (at + timedelta(seconds=60 + i % 3600)).isoformat()
        if i % 4:
            decision = {**base, "accepted_at": later, "seconds_to_accept": float(60 + i % 3600)}
            found.append(("lead.accepted", lead_id, envelope("lead.accepted", lead_id, decision)))
        else:
            decision = {**base, "rejected_at": later, "reason": "not_icp"}
            found.append(("lead.rejected", lead_id, envelope("lead.rejected", lead_id, decision)))
    return found


def core_rate(n: int) -> float:
    """Merge + contributions diff per lead, in process: the ceiling of the consumer."""
    zone = ZoneInfo("UTC")
    started = time.perf_counter()
    for i in range(n):
        at = START + timedelta(minutes=i)
        mql = Mql(f"m{i}", at, "src", "camp", 50.0, {})
        facts: list[Fact] = [
            Assigned(f"a{i}", at, f"asg{i}", "rep", "team", "r", 1, mql),
            Accepted(f"c{i}", at + timedelta(minutes=5), f"asg{i}", "rep", 300.0)
            if i % 4 else Rejected(f"r{i}", at, f"asg{i}", "rep", "not_icp"),
        ]  # fmt: skip
        state = LeadState(f"l{i}")
        after = apply_all(state, facts)
        delta(contributions(state, zone), contributions(after, zone))
    return 2 * n / (time.perf_counter() - started)


async def aggregated(feedback: str) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{feedback}/metrics")).text
    match = re.search(r"^handoff_feedback_events_aggregated_total ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def run(leads: int) -> dict[str, float]:
    env = stack_env()
    feedback = env["HANDOFF_FEEDBACK_URL"]
    events = events_of(leads)
    before = await aggregated(feedback)
    producer = AIOKafkaProducer(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], linger_ms=20,
                                max_batch_size=512 * 1024, enable_idempotence=True)  # fmt: skip
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(topic, value, key=key.encode()) for topic, key, value in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    produced = time.perf_counter() - started
    deadline = time.monotonic() + 3600
    while await aggregated(feedback) < before + len(events):
        if time.monotonic() > deadline:
            raise TimeoutError("the feedback service did not count every event")
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    print(f"produced {len(events)} events in {produced:.1f}s")
    print(
        f"feedback service: {len(events)} events aggregated in {elapsed:.1f}s"
        f" = {len(events) / elapsed:,.0f} events/s"
    )
    return {"events": len(events), "seconds": elapsed, "events_per_second": len(events) / elapsed}


MILLION = 1_000_000


def rebuild() -> dict[str, float | bool]:
    """Time ``handoff-feedback rebuild`` over every record of the topics, and say what
    1,000,000 events take: measured when the topics hold that many, else extrapolated
    (linearly, from this run's records per second; labelled so)."""
    env = {**os.environ, **{k: v for k, v in stack_env().items() if k.startswith("HANDOFF_")}}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "handoff_feedback", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    match = re.search(r"from (\d+) records", done.stdout)
    records = int(match.group(1)) if match else 0
    per_second = records / elapsed if elapsed else 0.0
    million = elapsed * MILLION / records if records else float("nan")
    print(f"rebuild: {records:,} records in {elapsed:.1f}s = {per_second:,.0f} records/s")
    if records >= MILLION:
        print(f"rebuild of 1,000,000 events: measured, {million:.0f}s")
    else:
        print(
            f"rebuild of 1,000,000 events: EXTRAPOLATED from {records:,} records,"
            f" about {million / 60:.0f} min"
        )
    return {
        "records": records,
        "seconds": elapsed,
        "records_per_second": per_second,
        "million_seconds": million,
        "million_measured": records >= MILLION,
    }


def report(core: float, live: dict[str, float], rebuilt: dict[str, float | bool] | None) -> str:
    lines = [
        "## feedback_aggregation",
        "",
        f"{int(live['events']):,} lifecycle events (an assignment and a decision per lead, over 30"
        " days in time order and 40 campaigns) produced to the stack of `make up`, to the moment"
        " the feedback service's `handoff_feedback_events_aggregated_total` has grown by as many."
        " The core alone is the merge and counting of the same kind of leads in process.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| core alone, in process | {core:,.0f} events/s |",
        f"| feedback service, end to end | {live['events_per_second']:,.0f} events/s"
        f" ({int(live['events']):,} in {live['seconds']:.1f} s) |",
    ]
    if rebuilt is not None:
        how = "measured" if rebuilt["million_measured"] else "extrapolated linearly, not measured"
        lines += [
            f"| rebuild over every record of the topics | {int(rebuilt['records']):,} records in"
            f" {float(rebuilt['seconds']):.1f} s = {float(rebuilt['records_per_second']):,.0f} records/s |",
            f"| rebuild of 1,000,000 events ({how}) | {float(rebuilt['million_seconds']) / 60:.1f} min |",
        ]
    reached = live["events_per_second"] >= GOAL
    lines += [
        "",
        f"Goal at least {GOAL:,} events/s with the service running: "
        f"{'reached' if reached else 'not reached'} ({live['events_per_second']:,.0f}).",
    ]
    return "\n".join(lines)


GOAL = 8_000  # events/s


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--leads", type=int, default=None, help="leads to produce (2 events each)")
    parser.add_argument("--no-rebuild", action="store_true", help="skip timing the rebuild")
    parser.add_argument("--rebuild", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = parser.parse_args()
    # In full, 1,000,000 events: the rebuild over the topics is then measured, not extrapolated.
    leads = args.leads or (10_000 if args.quick else MILLION // 2)
    ceiling = core_rate(min(leads, 20_000))
    print(f"core alone (merge + contributions, in process): {ceiling:,.0f} events/s")
    live = asyncio.run(run(leads))
    rebuilt = None if args.no_rebuild or args.quick else rebuild()
    figures = {"core_events_per_second": ceiling, "service": live, "rebuild": rebuilt}
    write_report(args.report, "feedback_aggregation", report(ceiling, live, rebuilt), figures)


if __name__ == "__main__":
    main()
