"""Where reps work: a Slack click to ``lead.accepted``, and a calendar refresh of 500 reps.

    make up && uv run python bench/where_reps_work.py [--quick] [--report DIR]

Runs on a router process of its own (its own database and topics, on the stack's Kafka and
PostgreSQL; tests/integration/isolated.py) pointed at a loopback server speaking Slack's Web
API wire format, which also serves the calendar feeds (tests/slack_receiver.py).

1. Clicks: leads are assigned to 20 reps with ``slack_user_id``; then one correctly signed
   Accept click per assignment is posted to ``/v1/slack/interactions`` at a steady 20 clicks/s.
   Latency: the click sent to its ``lead.accepted`` read from the topic (one clock, this
   process); also the interaction's HTTP answer time (Slack wants it within 3 s).
   Goal: p99 under 300 ms.
2. Calendars: 500 reps, each with a feed of a year of recurring events (weekly meetings, a
   daily stand-up, a recurring out-of-office afternoon, monthly all-day holidays, in
   Europe/Berlin). A refresh of all 500 (the config applied again) is timed alone: wall time
   and CPU seconds of the router process and its parsing process. Then routing latency
   (``mql.created`` sent to ``lead.assigned`` read) at a steady rate, without a refresh and
   during one. Goals: under 10 s of CPU; routing p99 unchanged within noise during it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from _stack import arguments, percentile, write_report
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.isolated import IsolatedRouters
from tests.slack_receiver import FakeSlack, block_actions_body, slack_signature
from tests.stack import Stack, eventually

SECRET = "bench-signing-secret"
CLICK_RATE = 20
CLICK_GOAL_MS = 300
CPU_GOAL_S = 10
TICKS = os.sysconf("SC_CLK_TCK")


def mql(lead_id: str) -> bytes:
    data = {
        "lead_id": lead_id,
        "email": f"{lead_id}@example.com",  # each lead a person of its own (no re-engagement)
        "country": "US",
        "source": "bench",
        "company": {"name": "Bench", "domain": "bench.example.com", "employees": 50},
        "mql_at": datetime.now(UTC).isoformat(),
    }
    event = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "bench", "type": "mql.created",
        "time": datetime.now(UTC).isoformat(), "subject": lead_id, "datacontenttype": "application/json",
        "data": data,
    }  # fmt: skip
    return orjson.dumps(event)


def year_feed() -> bytes:
    """A year of recurring events, as a busy rep's Outlook or Google feed would hold."""
    start = (datetime.now(UTC) - timedelta(days=300)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = f"{start:%Y%m%d}"
    series = [
        ("Weekly 1:1", "T100000", "T103000", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=60", ""),
        ("Pipeline review", "T140000", "T150000", "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;COUNT=120", ""),
        ("Stand-up", "T091500", "T093000", "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=300", ""),
        (
            "Focus",
            "T130000",
            "T170000",
            "RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=60",
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
        ),
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//handoff//EN"]
    for index, (summary, begins, ends, rule, extra) in enumerate(series):
        lines += [
            "BEGIN:VEVENT", f"UID:s{index}@bench", f"DTSTAMP:{day}T000000Z",
            f"DTSTART;TZID=Europe/Berlin:{day}{begins}", f"DTEND;TZID=Europe/Berlin:{day}{ends}",
            f"SUMMARY:{summary}", rule, *([extra] if extra else []), "END:VEVENT",
        ]  # fmt: skip
    lines += [
        "BEGIN:VEVENT", "UID:holiday@bench", f"DTSTAMP:{day}T000000Z", f"DTSTART;VALUE=DATE:{day}",
        "RRULE:FREQ=MONTHLY;COUNT=14", "SUMMARY:Company holiday", "END:VEVENT",
    ]  # fmt: skip
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its live children (the parsing process)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


class Bench:
    def __init__(
        self, routers: IsolatedRouters, slack: FakeSlack, database: AsyncEngine, admin: httpx.AsyncClient
    ) -> None:
        self.routers, self.slack, self.database, self.admin = routers, slack, database, admin
        self.bootstrap = routers.stack.kafka
        self.mql_topic = f"cbtest-{routers.tag}.mql"

    async def apply(self, config: dict[str, Any]) -> None:
        answer = await self.admin.put(
            "/v1/routing-config", content=yaml.safe_dump(config), headers={"Content-Type": "application/yaml"}
        )
        answer.raise_for_status()

    async def pending(self, lead_ids: set[str]) -> list[Any]:
        async with self.database.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT assignment_id, lead_id, rep_id FROM router.assignments"
                        " WHERE status = 'pending'"
                    )
                )
            ).all()
        return [row for row in rows if row.lead_id in lead_ids]

    async def tail(self, topic: str) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.bootstrap, auto_offset_reset="latest", enable_auto_commit=False
        )
        await consumer.start()
        await consumer.seek_to_end()
        return consumer


async def arrivals(consumer: AIOKafkaConsumer, seen: dict[str, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for records in (await consumer.getmany(timeout_ms=50)).values():
            now = time.perf_counter()
            for record in records:
                if record.key is not None:
                    seen.setdefault(record.key.decode(), now)


async def clicks(bench: Bench, producer: AIOKafkaProducer, count: int) -> dict[str, Any]:
    reps = [(f"click-{i}-{bench.routers.tag}", "U" + uuid.uuid4().hex[:10].upper()) for i in range(20)]
    await bench.apply({
        "reps": [{"id": rep, "email": f"{rep}@example.com", "slack_user_id": user} for rep, user in reps],
        "teams": [{"id": "clickers", "members": [rep for rep, _ in reps]}],
        "fallback_team": "clickers",
    })  # fmt: skip
    leads = {f"click-lead-{i}-{uuid.uuid4().hex[:6]}" for i in range(count)}
    for lead in leads:
        await producer.send(bench.mql_topic, mql(lead), key=lead.encode())
    await producer.flush()
    rows = await eventually(lambda: _all(bench, leads, count), timeout=300, what="every click lead assigned")
    users = dict(reps)
    consumer = await bench.tail(f"cbtest-{bench.routers.tag}.accepted")
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    reader = asyncio.create_task(arrivals(consumer, seen, stop))
    sent: dict[str, float] = {}
    answers: list[float] = []
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=bench.routers.urls["bench"], timeout=30) as api:

        async def click(row: Any) -> None:
            user = users[row.rep_id]
            action = {"type": "button", "action_id": "handoff_accept", "value": row.assignment_id}
            body = block_actions_body(user, action, {"ts": "1.000001", "blocks": []}, user)
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": slack_signature(SECRET, timestamp, body),
            }
            started = time.perf_counter()
            try:
                answer = await api.post("/v1/slack/interactions", content=body, headers=headers)
            except httpx.HTTPError:
                statuses.append(0)  # no answer in 30 s: counted, not timed
                return
            answers.append((time.perf_counter() - started) * 1000)
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                sent[row.lead_id] = started

        tasks = []
        begin = time.perf_counter()
        for index, row in enumerate(rows):
            await asyncio.sleep(max(0.0, begin + index / CLICK_RATE - time.perf_counter()))
            tasks.append(asyncio.create_task(click(row)))
        await asyncio.gather(*tasks)
    try:
        await eventually(
            lambda: len(seen.keys() & sent.keys()) == len(sent), timeout=120, what="every lead.accepted"
        )
    except AssertionError as error:
        print(error)
    stop.set()
    await reader
    await consumer.stop()
    latencies = [(seen[lead] - at) * 1000 for lead, at in sent.items() if lead in seen]
    return {
        "clicks": len(rows),
        "accepted_seen": len(latencies),
        "rate": CLICK_RATE,
        "accepted_p50_ms": percentile(latencies, 50),
        "accepted_p99_ms": percentile(latencies, 99),
        "accepted_max_ms": max(latencies),
        "answer_p50_ms": percentile(answers, 50),
        "answer_p99_ms": percentile(answers, 99),
        "non_200": sum(1 for status in statuses if status != 200),
        "load_average": os.getloadavg()[0],
    }


async def _all(bench: Bench, leads: set[str], count: int) -> list[Any] | None:
    found = await bench.pending(leads)
    return found if len(found) == count else None


async def routing_latency(
    bench: Bench, producer: AIOKafkaProducer, rate: int, seconds: float, during: Any = None
) -> dict[str, float]:
    consumer = await bench.tail(f"cbtest-{bench.routers.tag}.assigned")
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    reader = asyncio.create_task(arrivals(consumer, seen, stop))
    side = asyncio.create_task(during()) if during is not None else None
    sent: dict[str, float] = {}
    begin = time.perf_counter()
    index = 0
    while time.perf_counter() - begin < seconds:
        lead = f"lat-{index}-{uuid.uuid4().hex[:6]}"
        await asyncio.sleep(max(0.0, begin + index / rate - time.perf_counter()))
        sent[lead] = time.perf_counter()
        await producer.send(bench.mql_topic, mql(lead), key=lead.encode())
        index += 1
    await producer.flush()
    await eventually(
        lambda: len(seen.keys() & sent.keys()) == len(sent), timeout=120, what="every lead.assigned"
    )
    stop.set()
    await reader
    await consumer.stop()
    extra = await side if side is not None else None
    latencies = [(seen[lead] - at) * 1000 for lead, at in sent.items()]
    return {
        "leads": len(sent),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        **(extra or {}),
    }


async def calendars(
    bench: Bench, producer: AIOKafkaProducer, reps: int, rate: int, seconds: float
) -> dict[str, Any]:
    tag = bench.routers.tag
    feed = year_feed()
    names = [f"cal-{i}-{tag}" for i in range(reps)]
    for name in names:
        bench.slack.feeds[name] = feed
    config = {
        "reps": [{"id": name, "email": f"{name}@example.com", "timezone": "Europe/Berlin",
                  "calendar_url": bench.slack.feed_url(name)} for name in names],
        "teams": [{"id": "cal", "members": names}],
        "fallback_team": "cal",
    }  # fmt: skip
    pid = bench.routers.processes[0].pid

    async def refresh() -> dict[str, float]:
        cpu, wall = cpu_seconds(pid), time.perf_counter()
        applied = datetime.now(UTC)
        await bench.apply(config)

        async def all_read() -> bool:
            async with bench.database.connect() as connection:
                done = await connection.scalar(
                    text("SELECT count(*) FROM router.rep_calendars WHERE read_at >= :at"), {"at": applied}
                )
            return done == reps

        await eventually(all_read, timeout=600, interval=0.2, what="every feed read")
        return {"refresh_wall_s": time.perf_counter() - wall, "refresh_cpu_s": cpu_seconds(pid) - cpu}

    first = await refresh()  # the first read (and the pool's start)
    alone = await refresh()
    async with bench.database.connect() as connection:
        events = await connection.scalar(text("SELECT sum(events) FROM router.rep_calendars"))
    baseline = await routing_latency(bench, producer, rate, seconds)
    during = await routing_latency(bench, producer, rate, seconds, refresh)
    return {
        "reps": reps,
        "feed_bytes": len(feed),
        "occurrences_expanded": int(events or 0),
        "first_read": first,
        "refresh_alone": alone,
        "routing_without": baseline,
        "routing_during": during,
    }


async def main(quick: bool, report: Path | None) -> None:
    stack = Stack.from_env_file()
    slack = await FakeSlack().start()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-reps-{uuid.uuid4().hex[:6]}"
    logs.mkdir(parents=True)
    routers = await IsolatedRouters(stack, logs).create()
    accepted = f"cbtest-{routers.tag}.accepted"
    kafka = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await kafka.start()
    try:
        await kafka.create_topics([NewTopic(accepted, 1, 1)])
    finally:
        await kafka.close()
    database = create_async_engine(routers.database_url, pool_size=2)
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka, enable_idempotence=True, acks="all", linger_ms=1
    )
    await producer.start()
    try:
        await routers.start_router(
            "bench",
            HANDOFF_SLACK_BOT_TOKEN="xoxb-bench",
            HANDOFF_SLACK_SIGNING_SECRET=SECRET,
            HANDOFF_SLACK_API_URL=slack.api_url,
            HANDOFF_TOPIC_LEAD_ACCEPTED=accepted,
            HANDOFF_LOG_LEVEL="warning",
            HANDOFF_CALENDAR_CONCURRENCY="32",
        )
        async with httpx.AsyncClient(
            base_url=routers.urls["bench"],
            headers={"Authorization": f"Bearer {stack.admin_token}"},
            timeout=60,
        ) as admin:
            bench = Bench(routers, slack, database, admin)
            click_figures = await clicks(bench, producer, 100 if quick else 600)
            calendar_figures = await calendars(bench, producer, 500, 50, 10 if quick else 20)
    finally:
        await producer.stop()
        await database.dispose()
        await routers.destroy()
        await slack.stop()
    write_report(
        report,
        "where_reps_work",
        markdown(click_figures, calendar_figures),
        {"clicks": click_figures, "calendars": calendar_figures},
    )


def markdown(c: dict[str, Any], k: dict[str, Any]) -> str:
    def reached(ok: bool) -> str:
        return "reached" if ok else "not reached"

    alone, without, during = k["refresh_alone"], k["routing_without"], k["routing_during"]
    refresh = (
        f"calendar refresh of {k['reps']} feeds ({k['feed_bytes']:,} bytes each, a year of recurring"
        f" events; {k['occurrences_expanded']:,} occurrences in the window)"
    )
    rows = [
        ("click → `lead.accepted` read, p50 / p99 / max",
         f"{c['accepted_p50_ms']:.0f} / {c['accepted_p99_ms']:.0f} / {c['accepted_max_ms']:.0f} ms"),
        ("interaction answered (HTTP), p50 / p99", f"{c['answer_p50_ms']:.0f} / {c['answer_p99_ms']:.0f} ms"),
        ("answers other than 200 (0: no answer in 30 s)", str(c["non_200"])),
        ("load average of the machine (2 cores) at the end of the clicks", f"{c['load_average']:.0f}"),
        (f"{refresh}, wall", f"{alone['refresh_wall_s']:.1f} s"),
        ("the same refresh, CPU of the router and its parsing process", f"{alone['refresh_cpu_s']:.1f} s"),
        ("routing at 50 leads/s without a refresh, p50 / p99",
         f"{without['p50_ms']:.0f} / {without['p99_ms']:.0f} ms"),
        (f"routing at 50 leads/s during a refresh ({during.get('refresh_wall_s', 0):.1f} s wall), p50 / p99",
         f"{during['p50_ms']:.0f} / {during['p99_ms']:.0f} ms"),
    ]  # fmt: skip
    goals = (
        f"Goals: click → `lead.accepted` p99 under {CLICK_GOAL_MS} ms:"
        f" {reached(c['accepted_p99_ms'] < CLICK_GOAL_MS)}; refresh under {CPU_GOAL_S} s of CPU:"
        f" {reached(alone['refresh_cpu_s'] < CPU_GOAL_S)}; routing p99 during the refresh"
        f" {during['p99_ms']:.0f} ms against {without['p99_ms']:.0f} ms without."
    )
    return "\n".join(
        [
            "## Where reps work: Slack clicks and calendar refreshes",
            "",
            "A router of its own on the stack's Kafka and PostgreSQL, Slack and the feeds on a loopback"
            f" server. {c['clicks']} correctly signed Accept clicks at {c['rate']}/s,"
            " each on its own assignment.",
            "",
            "| figure | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
            "",
            goals,
        ]
    )


if __name__ == "__main__":
    args = arguments(__doc__).parse_args()
    asyncio.run(main(args.quick, args.report))
