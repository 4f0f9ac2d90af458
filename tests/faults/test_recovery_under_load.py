"""While leads flow: kill -9 the router (twice), the SLA monitor, the feedback service and the
broker, stop PostgreSQL (SIGINT, then SIGKILL); recover each time with `make up` only. SDR tools
are called back all the while: one answers, one hangs, one refuses connections, and one has no
secret yet (its calls wait, never sent unsigned); a team with a
20-second SLA gets reminders and escalations; reps accept and reject leads between the faults
(each call sent twice, as a retrying tool would).

Afterwards: every lead has exactly one assignment, in the state its decisions left it; every
assignment exactly one ``lead.assigned`` event (a relay that died before marking may publish
the same event twice: same id), every decision exactly one event, every escalation step one
event; every callback has one delivery, delivered under one ``webhook-id`` with one body where
the tool answers, waiting (not lost) where it hangs, refuses or has no secret; the SLA monitor holds one timer
per assignment, feedback one record per lead, and the feedback report's counts equal a recount
from the topics. The counts are printed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from handoff_shared.kafka import partitions_of
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.callback_receiver import Receiver
from tests.faults.conftest import kill_part, make_up, stop_postgres
from tests.integration.routing_configs import Territory
from tests.stack import Stack, eventually, mql_data, structured_event, unique

pytestmark = pytest.mark.integration

RATE = 100  # leads/s offered while the faults happen
FR_EVERY = 40  # one lead in 40 goes to the teams with a 20-second SLA (a hanging and a refusing tool)
SHORT_SLA = {
    "accept_within": "20s",
    "ladder": [{"at": "50%", "action": "remind"}, {"at": "100%", "action": "escalate"}],
}
DECISIONS_PER_RECOVERY = 12
TOPICS = ("lead.mql-created", "lead.assigned", "lead.accepted", "lead.rejected", "lead.escalated")


class FlowStopped(Exception):
    """The flow was stopped while it had no producer."""


class LeadFlow:
    """Produces MQLs at a steady rate, each until the broker acknowledges it (same event id on
    every try), through broker restarts."""

    def __init__(self, bootstrap: str, campaign: str) -> None:
        self.bootstrap = bootstrap
        self.campaign = campaign
        self.acknowledged: list[str] = []
        self.retries = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def until_sent(self, more: int, timeout: float = 120) -> None:
        target = len(self.acknowledged) + more
        await eventually(lambda: len(self.acknowledged) >= target, timeout=timeout, what=f"{more} more leads")

    async def _pause(self, seconds: float) -> None:
        """Pace the flow: wait ``seconds``, or less if the flow is stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _producer(self) -> AIOKafkaProducer:
        while True:
            if self._stop.is_set():  # e.g. a failed recovery left no broker: never wait forever
                raise FlowStopped
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all", request_timeout_ms=5000
            )
            try:
                await asyncio.wait_for(producer.start(), timeout=10)
                return producer
            except (TimeoutError, KafkaError, OSError):
                await _close(producer)
                self.retries += 1
                await self._pause(0.5)  # the broker is away: back off, then try again

    async def _run(self) -> None:
        try:
            await self._send()
        except FlowStopped:
            return

    async def _send(self) -> None:
        producer = await self._producer()
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * RATE) - len(self.acknowledged)
                if due <= 0:  # ahead of the rate: wait until the next lead is due (or a stop)
                    await self._pause(1 / RATE)
                    continue
                n = len(self.acknowledged)
                lead = mql_data(country="FR" if n % FR_EVERY == 0 else "DE", campaign=self.campaign)
                value = structured_event(lead, event_id=str(uuid.uuid4()))
                while True:
                    try:
                        await asyncio.wait_for(
                            producer.send_and_wait("lead.mql-created", value, key=lead["lead_id"].encode()),
                            15,
                        )
                        break
                    except (TimeoutError, KafkaError, OSError):
                        self.retries += 1
                        await _close(producer)
                        producer = await self._producer()
                self.acknowledged.append(lead["lead_id"])
        finally:
            await _close(producer)


async def _close(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(TimeoutError, KafkaError, OSError):
        await asyncio.wait_for(producer.stop(), timeout=10)


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


async def read_since(bootstrap: str, since: dict[TopicPartition, int]) -> list[dict[str, Any]]:
    """Every event on the topic from ``since`` to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        ends = await consumer.end_offsets(list(since))
        events: list[dict[str, Any]] = []
        while [p for p, end in ends.items() if await consumer.position(p) < end]:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                events.extend(json.loads(r.value) for r in records if r.value)
        return events
    finally:
        # aiokafka's group-less consumer may re-raise the cancellation of its own internal
        # task on stop(); nothing else is cancelled here.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


def system_config(territory: Territory, receiver: Receiver, refusing_url: str) -> dict[str, Any]:
    """The territory with SDR tools: ben's answers, cap's hangs, the fallback rep's refuses
    connections, ana's is never given a secret; the manager's answers. The FR and fallback teams
    have a 20 s SLA."""
    config = territory.config()
    hooks = {
        territory.ana: receiver.url(territory.ana),
        territory.ben: receiver.url(territory.ben),
        territory.cap: receiver.url(territory.cap),
        territory.fallback: refusing_url,
    }
    for rep in config["reps"]:
        rep["callback_url"] = hooks[rep["id"]]
    config["managers"][0]["callback_url"] = receiver.url(territory.manager)
    for team in config["teams"]:
        if team["id"] in (territory.capped_team, territory.fallback_team):
            team["sla"] = SHORT_SLA
    return config


def refused_port() -> int:
    """A loopback port nobody listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def issue_secrets(admin: httpx.AsyncClient, territory: Territory, receiver: Receiver) -> None:
    """Every tool but ana's: three in four DE leads go to ana, and their calls wait for a secret."""
    owners = [("reps", rep) for rep in (territory.ben, territory.cap, territory.fallback)]
    for kind, owner in [*owners, ("managers", territory.manager)]:
        response = await admin.post(f"/v1/{kind}/{owner}/callback-secret")
        assert response.status_code == 201, response.text
        receiver.trust(owner, response.json()["secret"])


class Decisions:
    """Reps accept two of three pending leads and reject the third, between the faults; every
    call is sent twice, as a tool that retries would, and must answer 200 both times."""

    def __init__(self, stack: Stack, territory: Territory, tokens: dict[str, str]) -> None:
        self.stack = stack
        self.territory = territory
        self.tokens = tokens
        self.made: dict[str, str] = {}  # assignment id -> accepted | rejected

    async def some(self, engine: AsyncEngine, lead_ids: list[str]) -> None:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT assignment_id, rep_id FROM router.assignments WHERE lead_id = ANY(:ids) "
                        "AND status = 'pending' AND rep_id = ANY(:reps) ORDER BY assigned_at LIMIT :n"
                    ),
                    {
                        "ids": lead_ids,
                        "reps": [self.territory.ana, self.territory.ben],
                        "n": DECISIONS_PER_RECOVERY,
                    },
                )
            ).all()
        async with httpx.AsyncClient(base_url=self.stack.router_url, timeout=30) as router:
            for i, (assignment_id, rep_id) in enumerate(rows):
                outcome = "rejected" if i % 3 == 2 else "accepted"
                call = "reject" if outcome == "rejected" else "accept"
                body = {"reason": "not_icp"} if outcome == "rejected" else None
                for _ in range(2):
                    response = await router.post(
                        f"/v1/assignments/{assignment_id}/{call}",
                        headers={"Authorization": f"Bearer {self.tokens[rep_id]}"},
                        json=body,
                    )
                    assert response.status_code == 200, response.text
                self.made[assignment_id] = outcome


# A client connected to a broker killed with SIGKILL leaves sockets that aiokafka never closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_leads_survive_kills_recovered_by_make_up(
    stack: Stack, engine: AsyncEngine, admin: httpx.AsyncClient
) -> None:
    territory = Territory.new()
    receiver = await Receiver().start()
    receiver.fail(territory.cap, default="hang")
    config = system_config(territory, receiver, f"http://127.0.0.1:{refused_port()}/hooks/refused")
    await territory.apply(admin, **{key: config[key] for key in ("reps", "managers", "teams")})
    await issue_secrets(admin, territory, receiver)
    tokens = {rep: await territory.token(admin, rep) for rep in (territory.ana, territory.ben)}
    decisions = Decisions(stack, territory, tokens)
    since = {topic: await end_offsets(stack.kafka, topic) for topic in TOPICS}
    campaign = unique("faults")
    flow = LeadFlow(stack.kafka, campaign)
    faults: list[tuple[str, Callable[[], None]]] = [
        ("kill -9 router", lambda: kill_parts("router")),
        (
            "kill -9 router again, sla-monitor and feedback",
            lambda: kill_parts("router", "sla-monitor", "feedback"),
        ),
        ("kill -9 broker", lambda: kill_parts("kafka")),
        ("SIGINT PostgreSQL (fast shutdown)", lambda: stop_postgres(signal.SIGINT)),
        ("SIGKILL PostgreSQL", lambda: stop_postgres(signal.SIGKILL)),
    ]
    flow.start()
    recoveries = []
    try:
        for name, fault in faults:
            await flow.until_sent(RATE)  # leads are flowing
            fault()
            took = await asyncio.to_thread(make_up)
            recoveries.append(f"{name}: make up took {took:.0f}s")
            await decisions.some(engine, list(flow.acknowledged))
        await flow.until_sent(RATE)
    finally:
        await flow.stop()
    lead_ids = flow.acknowledged
    wanted = set(lead_ids)

    async def assignment_per_lead() -> dict[str, list[tuple[str, str, str, str]]] | None:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT lead_id, assignment_id, status, rep_id, team_id FROM router.assignments "
                    "WHERE lead_id = ANY(:ids)"
                ),
                {"ids": lead_ids},
            )
            found: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
            for lead_id, *rest in rows:
                found[lead_id].append(tuple(rest))
        return found if len(found) == len(wanted) else None

    per_lead = await eventually(assignment_per_lead, timeout=180, interval=1, what="every lead assigned")
    rows = [row for found in per_lead.values() for row in found]
    status_of = {assignment_id: status for assignment_id, status, _, _ in rows}
    short_sla = {
        assignment_id
        for assignment_id, _, _, team in rows
        if team in (territory.capped_team, territory.fallback_team)
    }

    async def all_events(
        topic: str, complete: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]] | None:
            events = [e for e in await read_since(stack.kafka, since[topic]) if e.get("subject") in wanted]
            return events if complete(events) else None

        found: list[dict[str, Any]] = await eventually(read, timeout=120, interval=1, what=f"every {topic}")
        return found

    assigned = await all_events("lead.assigned", lambda events: {e["subject"] for e in events} == wanted)
    ids_per_assignment: dict[str, set[str]] = defaultdict(set)
    for event in assigned:
        ids_per_assignment[event["data"]["assignment_id"]].add(event["id"])
    event_ids = {event["id"] for event in assigned}
    republished = len(assigned) - len(event_ids)
    assignment_ids = list(ids_per_assignment)

    def decided(kind: str) -> set[str]:
        return {a for a, outcome in decisions.made.items() if outcome == kind}

    accepted = await all_events(
        "lead.accepted", lambda events: {e["data"]["assignment_id"] for e in events} >= decided("accepted")
    )
    rejected = await all_events(
        "lead.rejected", lambda events: {e["data"]["assignment_id"] for e in events} >= decided("rejected")
    )
    steps = {(a, level) for a in short_sla for level in ("remind", "escalate")}
    escalated = await all_events(
        "lead.escalated",
        lambda events: {(e["data"]["assignment_id"], e["data"]["level"]) for e in events} >= steps,
    )
    ids_per_decision: dict[str, set[str]] = defaultdict(set)
    for event in [*accepted, *rejected]:
        ids_per_decision[event["data"]["assignment_id"]].add(event["id"])
    ids_per_step: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in escalated:
        ids_per_step[(event["data"]["assignment_id"], event["data"]["level"])].add(event["id"])

    async def recorded(query: str, ids: list[str]) -> int:
        async with engine.connect() as connection:
            count = await connection.scalar(text(query), {"ids": ids})
        return int(count or 0)

    # One timer per assignment (its primary key), one fact row per lead in feedback.
    sla = await eventually(
        lambda: _complete(
            recorded(
                "SELECT count(*) FROM sla_monitor.timers WHERE assignment_id = ANY(:ids)", assignment_ids
            ),
            len(assignment_ids),
        ),
        timeout=120,
        interval=1,
        what="a timer per assignment",
    )
    feedback = await eventually(
        lambda: _complete(
            recorded("SELECT count(*) FROM feedback.leads WHERE lead_id = ANY(:ids)", sorted(wanted)),
            len(wanted),
        ),
        timeout=120,
        interval=1,
        what="a feedback record per lead",
    )
    callbacks = await delivered_callbacks(engine, receiver, territory, lead_ids, assigned, escalated)
    recount = {
        "mqls": len(wanted),
        "assigned": len(assignment_ids),
        "accepted": len(ids_per_decision.keys() & decided("accepted")),
        "rejected": len(ids_per_decision.keys() & decided("rejected")),
        "rejected_by_reason": {"not_icp": len(decided("rejected"))} if decided("rejected") else {},
        "escalations": dict(Counter(level for _, level in ids_per_step)),
    }
    report = await report_row(stack, campaign, recount)
    await receiver.stop()
    print(
        "\n".join(
            [
                "fault recovery under load:",
                *(f"  {line}" for line in recoveries),
                f"  leads acknowledged by the broker: {len(lead_ids)} (producer retries {flow.retries})",
                f"  leads with exactly one assignment: {sum(len(found) == 1 for found in per_lead.values())}",
                f"  lead.assigned records: {len(assigned)}, distinct events: {len(event_ids)}, "
                f"republished after a crash: {republished}",
                f"  decisions made (each call sent twice): {len(decisions.made)}; their events: "
                f"{sum(len(ids) for ids in ids_per_decision.values())}",
                f"  escalation steps due (20 s SLA teams): {len(steps)}; their events: "
                f"{sum(len(ids) for ids in ids_per_step.values())}",
                f"  sla-monitor timers: {sla}, feedback lead records: {feedback}",
                *(f"  callbacks {line}" for line in callbacks.lines()),
                f"  feedback report for the campaign: {report}",
            ]
        )
    )
    assert all(len(found) == 1 for found in per_lead.values())
    assert all(status_of[a] == decisions.made.get(a, "pending") for a in status_of)
    assert len(ids_per_assignment) == len(wanted)
    assert all(len(ids) == 1 for ids in ids_per_assignment.values())
    assert ids_per_decision.keys() == decisions.made.keys()
    assert all(len(ids) == 1 for ids in ids_per_decision.values())
    assert ids_per_step.keys() >= steps
    assert all(len(ids) == 1 for ids in ids_per_step.values())
    assert sla == len(assignment_ids) == len(wanted)
    assert feedback == len(wanted)
    callbacks.check()
    assert [name for name, _, _ in receiver.arrivals if name == territory.ana] == []  # never unsigned


class Callbacks:
    """What became of every callback of the test's leads, by tool."""

    def __init__(
        self, rows: list[Any], receiver: Receiver, expected: dict[str, set[str]], answering: set[str]
    ) -> None:
        self.rows = rows  # (delivery_id, endpoint_id, event_id, status, attempts)
        self.receiver = receiver
        self.answering = answering  # the endpoints whose tool answers
        self.expected = expected  # endpoint id -> the event ids it must have a delivery for

    def of(self, endpoint: str) -> list[Any]:
        return [row for row in self.rows if row[1] == endpoint]

    def lines(self) -> list[str]:
        lines = []
        for endpoint, events in sorted(self.expected.items()):
            rows = self.of(endpoint)
            statuses = Counter(row[3] for row in rows)
            tries = sum(row[4] for row in rows)
            lines.append(
                f"{endpoint}: {len(events)} events, {len(rows)} deliveries {dict(statuses)}, {tries} tries"
            )
        bodies: dict[str, set[bytes]] = defaultdict(set)
        for _, webhook_id, body in self.receiver.arrivals:
            bodies[webhook_id].add(body)
        lines.append(
            f"arrived at the tools: {len(self.receiver.arrivals)} calls, {len(bodies)} webhook-ids, "
            f"{sum(1 for b in bodies.values() if len(b) > 1)} with more than one body"
        )
        return lines

    def check(self) -> None:
        for endpoint, events in self.expected.items():
            assert sorted(row[2] for row in self.of(endpoint)) == sorted(events), endpoint
        bodies: dict[str, set[bytes]] = defaultdict(set)
        for _, webhook_id, body in self.receiver.arrivals:
            bodies[webhook_id].add(body)
        assert all(len(found) == 1 for found in bodies.values())
        delivered = {call.webhook_id for call in self.receiver.calls if 200 <= call.answered < 300}
        assert all(call.verified for call in self.receiver.calls)
        for delivery_id, endpoint, _, status, _ in self.rows:
            answers = endpoint in self.answering
            assert (status == "delivered") is answers, (endpoint, status)
            assert (delivery_id in delivered) is answers, (endpoint, delivery_id)


async def delivered_callbacks(
    engine: AsyncEngine,
    receiver: Receiver,
    territory: Territory,
    lead_ids: list[str],
    assigned: list[dict[str, Any]],
    escalated: list[dict[str, Any]],
) -> Callbacks:
    """Wait until every callback to a tool that answers is delivered, then read them all."""
    expected: dict[str, set[str]] = defaultdict(set)
    for event in assigned:
        expected[f"rep:{event['data']['rep_id']}"].add(event["id"])
    for event in escalated:
        data = event["data"]
        owner = f"rep:{data['rep_id']}" if data["level"] == "remind" else f"manager:{territory.manager}"
        expected[owner].add(event["id"])

    answering = {f"rep:{territory.ben}", f"manager:{territory.manager}"}

    async def settled() -> list[Any] | None:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT delivery_id, endpoint_id, event_id, status, attempts "
                        "FROM router.callback_deliveries WHERE lead_id = ANY(:ids)"
                    ),
                    {"ids": lead_ids},
                )
            ).all()
        complete = sum(len(events) for events in expected.values()) <= len(rows)
        waiting = [row for row in rows if row[1] in answering and row[3] != "delivered"]
        return list(rows) if complete and not waiting else None

    rows: list[Any] = await eventually(
        settled, timeout=180, interval=1, what="every answering tool called back"
    )
    return Callbacks(rows, receiver, expected, answering)


async def report_row(stack: Stack, campaign: str, recount: dict[str, Any]) -> dict[str, Any]:
    """The feedback report's row for the campaign, once it equals the recount from the topics."""
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    async with httpx.AsyncClient(base_url=stack.feedback_url, headers=headers, timeout=30) as feedback:

        async def matching() -> dict[str, Any] | None:
            response = await feedback.get("/v1/reports/summary", params={"group_by": "campaign"})
            assert response.status_code == 200, response.text
            row = {r["segment_key"]: r for r in response.json()["rows"]}.get(f"campaign={campaign}")
            if row is None:
                return None
            counted = {key: row[key] for key in recount}
            counted["escalations"] = {level: n for level, n in row["escalations"].items() if n}
            return counted if counted == recount else None

        found: dict[str, Any] = await eventually(
            matching,
            timeout=120,
            interval=1,
            what=f"the report for {campaign} to equal the recount {recount}",
        )
        return found


def kill_parts(*names: str) -> None:
    for name in names:
        kill_part(name)


async def _complete(count: Any, wanted: int) -> int | None:
    value = int(await count)
    return value if value >= wanted else None
