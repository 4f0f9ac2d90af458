"""The live demo of ``make run``: says where to look first (the feedback dashboard and how to
give it the admin token, the router's API docs, what is overdue, the SDR tool), applies the
sample routing config, and streams realistic MQLs (Faker) into ``lead.mql-created``, showing
each assignment as it happens. While the stream runs, a few reps decide their leads a few
seconds after receiving them, as people would: most accept, some reject with a realistic
reason, and some accepted leads are then qualified (SAL -> SQL: ``sql`` or ``disqualified``
with a reason), so the dashboard fills up live. One lead of the `sla-demo` team (20s SLA,
counted in wall time) is left undecided: a reminder, an escalation to the manager and a
reassignment to another rep within a minute; a step that does not come is reported as a
warning, never passed over. The reference SDR tool (examples/sdr-tool) receives the signed
callbacks of every demo rep and manager; rep-ana's tool goes down for a while and comes
back, so her circuit opens, routing goes around her, and her leads arrive after.

    uv run python scripts/demo.py [--leads 120] [--rate 6] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faker import Faker
from handoff_shared.kafka import partitions_of

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ["US"] * 5 + ["CA", "DE", "FR", "GB", "NL", "ES", "SG", "AU", "BR", "MX", "JP"]
INDUSTRIES = ["Software", "Fintech", "Healthcare", "Retail", "Manufacturing", "Education", "Logistics"]
SOURCES = {
    "webinar": ["q4-launch", "ai-roadshow"],
    "paid_search": ["brand", "competitor"],
    "content": ["ebook-routing", "benchmark-report"],
    "event": ["saastr", "dreamforce"],
}
NAMED = ["acme.io", "eu.globex.com", "initech.com"]
# Why SDRs refuse MQLs, roughly as often as they do (codes of the sample config's rejection_reasons).
REJECT_REASONS = {
    "not_icp": 5,
    "wrong_persona": 4,
    "no_intent": 3,
    "bad_contact_data": 2,
    "student_or_job_seeker": 2,
    "existing_customer": 1,
    "duplicate": 1,
    "wrong_territory": 1,
}
DISQUALIFY_REASONS = {
    "no_budget": 3,
    "bad_timing": 3,
    "no_need": 2,
    "no_authority": 2,
    "unresponsive": 2,
    "chose_competitor": 1,
}
DECIDING_REPS = ("rep-ana", "rep-carl", "rep-dana", "rep-fay", "rep-gus", "rep-hal", "rep-jo")
SLA_TEAM = "sla-demo"
SLA_LEVELS = ("remind", "escalate", "reassign")


SDR_TOOL_PORT = 8099 + int(os.environ.get("HANDOFF_STACK_PORT_OFFSET", "0"))
DOWN_REP = "rep-ana"


def demo_config() -> str:
    """The sample config, its callbacks pointed at the reference SDR tool of this stack."""
    config = yaml.safe_load((ROOT / "deploy" / "local" / "sample-routing.yaml").read_text())
    for person in [*config["reps"], *config.get("managers", [])]:
        person["callback_url"] = f"http://127.0.0.1:{SDR_TOOL_PORT}/hooks/{person['id']}"
    config["callbacks"] = {"unreachable_after": "5s"}  # short, to watch routing go around a dead tool
    return yaml.safe_dump(config, sort_keys=False)


@contextlib.asynccontextmanager
async def sdr_tool(router: httpx.AsyncClient, env: dict[str, str]) -> Any:
    """Issue every demo rep's and manager's secret and token, and run the reference SDR tool."""
    config = yaml.safe_load(demo_config())
    keys: dict[str, dict[str, str]] = {}
    for rep in config["reps"]:
        secret = (await router.post(f"/v1/reps/{rep['id']}/callback-secret")).json()["secret"]
        token = (await router.post(f"/v1/reps/{rep['id']}/tokens")).json()["token"]
        keys[rep["id"]] = {"secret": secret, "token": token}
    for manager in config.get("managers", []):
        keys[manager["id"]] = {
            "secret": (await router.post(f"/v1/managers/{manager['id']}/callback-secret")).json()["secret"]
        }
    folder = ROOT / ".run" / "sdr-tool"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reps.json").write_text(json.dumps(keys))
    (folder / "reps.json").chmod(0o600)
    tool_env = {
        **os.environ,
        "SDR_TOOL_REPS": str(folder / "reps.json"),
        "HANDOFF_ROUTER_URL": env["HANDOFF_ROUTER_URL"],
    }
    app_dir = str(ROOT / "examples" / "sdr-tool")
    with (folder / "sdr-tool.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "sdr_tool:app", "--app-dir", app_dir,
            "--port", str(SDR_TOOL_PORT), "--log-level", "warning",
            env=tool_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{SDR_TOOL_PORT}"
    async with httpx.AsyncClient(base_url=url) as tool:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if (await tool.get("/api/inbox")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        try:
            yield tool
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


def stack_env() -> dict[str, str]:
    path = ROOT / ".run" / "stack.env"
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def fake_mql(fake: Faker) -> dict[str, Any]:
    """One realistic MQL, as marketing automation would emit it."""
    country = random.choice(COUNTRIES)
    source = random.choice(list(SOURCES))
    domain = random.choice(NAMED) if random.random() < 0.07 else fake.domain_name()
    first, last = fake.first_name(), fake.last_name()
    return {
        "lead_id": f"lead-{uuid.uuid4().hex[:10]}",
        "email": f"{first.lower()}.{last.lower()}@{domain}",
        "first_name": first,
        "last_name": last,
        "title": fake.job(),
        "company": {
            "name": fake.company(),
            "domain": domain,
            "employees": random.choice([12, 45, 180, 600, 1500, 5000, 20000]),
            "industry": random.choice(INDUSTRIES),
        },
        "country": country,
        "source": source,
        "campaign": random.choice(SOURCES[source]),
        "score": random.randint(40, 100),
        "product_interest": random.sample(["routing", "sla", "analytics"], k=random.randint(1, 2)),
        "mql_at": datetime.now(UTC).isoformat(),
    }


def envelope(data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "demo/marketing-automation",
            "type": "mql.created",
            "time": datetime.now(UTC).isoformat(),
            "subject": data["lead_id"],
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


async def tail(env: dict[str, str], topic: str, stop: asyncio.Event) -> AsyncIterator[dict[str, Any]]:
    """The data of every event written to ``topic`` from now on, until ``stop``."""
    bootstrap = env["HANDOFF_KAFKA_BOOTSTRAP"]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    consumer.assign(partitions)
    for partition, offset in (await consumer.end_offsets(partitions)).items():
        consumer.seek(partition, offset)
    try:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    yield json.loads(record.value)["data"]
    finally:
        await consumer.stop()


async def watch_assignments(
    env: dict[str, str],
    seen: list[dict[str, Any]],
    wanted: int,
    all_seen: asyncio.Event,
    stop: asyncio.Event,
    reps: Reps,
    sla_lead: SlaLead,
) -> None:
    async for data in tail(env, "lead.assigned", stop):
        seen.append(data)
        reps.received(data)
        sla_lead.assigned(data)
        if len({d["lead_id"] for d in seen}) >= wanted:
            all_seen.set()
        lead = data["lead"]
        # Skips a person watching should see: a dead SDR tool or an auto-paused rep routed around.
        skipped = [
            f"{skip['rep_id']}: {skip['reason']}"
            for skip in data["explanation"].get("skipped", [])
            if skip.get("reason") in ("callback_unreachable", "sla_auto_paused")
        ]
        print(
            f"  {lead['lead_id']}  {lead['country']}"
            f"  {lead['company'].get('employees', '?'):>6} emp"
            f"  -> {data['rep_id']:<9} team={data['team_id']:<14} rule={data['rule_id']}"
            f"  ({data['explanation'].get('matched_by', '')}, attempt {data['attempt']})"
            + (f"  skipped {', '.join(skipped)}" if skipped else "")
        )


async def watch_escalations(env: dict[str, str], sla_lead: SlaLead, stop: asyncio.Event) -> None:
    """Print every ``lead.escalated`` from now on; note the steps of the sla-demo lead."""
    async for data in tail(env, "lead.escalated", stop):
        print(
            f"  SLA {data['level']:<8} {data['lead_id']}  rep={data['rep_id']:<9}"
            f" overdue={data['overdue_seconds']:+.0f}s manager={data.get('manager_id')}"
            + (f"  ({data['reason']}: {data.get('summary')})" if data.get("reason") else "")
        )
        if data["lead_id"] == sla_lead.lead_id and data.get("reason") is None:
            sla_lead.fired(data["level"])


def pick(weights: dict[str, int]) -> str:
    return random.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class SlaLead:
    """The one lead of the sla-demo team nobody decides, and the ladder steps seen for it."""

    lead_id: str
    steps: list[str] = field(default_factory=list)
    reassigned: asyncio.Event = field(default_factory=asyncio.Event)
    assigned_again: asyncio.Event = field(default_factory=asyncio.Event)

    def assigned(self, data: dict[str, Any]) -> None:
        if data["lead_id"] == self.lead_id and data["attempt"] > 1:
            self.assigned_again.set()

    def fired(self, level: str) -> None:
        self.steps.append(level)
        if level == "reassign":
            self.reassigned.set()


@dataclass
class Reps:
    """The demo reps at work while the stream runs: each of their new leads is decided a few
    seconds after it arrives (about a quarter is left for later), most accepted, some rejected
    with a reason; some accepted ones are qualified a little later (SAL -> SQL)."""

    router: httpx.AsyncClient
    tokens: dict[str, str]
    decisions: Counter[str] = field(default_factory=Counter)
    qualifications: Counter[str] = field(default_factory=Counter)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def received(self, data: dict[str, Any]) -> None:
        if data["rep_id"] not in self.tokens or data["team_id"] == SLA_TEAM or random.random() < 0.25:
            return  # left undecided: the SLA clock (hours long outside sla-demo) keeps running
        task = asyncio.create_task(self._work(data))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def finish(self) -> None:
        """Wait for the decisions and qualifications under way."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks))

    async def _post(self, data: dict[str, Any], action: str, body: dict[str, str] | None) -> int:
        response = await self.router.post(
            f"/v1/assignments/{data['assignment_id']}/{action}",
            headers={"Authorization": f"Bearer {self.tokens[data['rep_id']]}"},
            json=body,
        )
        return response.status_code

    async def _work(self, data: dict[str, Any]) -> None:
        await asyncio.sleep(random.uniform(1.0, 6.0))
        who, lead = data["rep_id"], data["lead_id"]
        if random.random() < 0.72:
            status = await self._post(data, "accept", None)
            said = "accepted" if status == 200 else f"accept {status}"
            print(f"  {who:<9} accepts  {lead}" + ("" if status == 200 else f"  (HTTP {status})"))
        else:
            reason = pick(REJECT_REASONS)
            status = await self._post(data, "reject", {"reason": reason})
            said = f"rejected ({reason})" if status == 200 else f"reject {status}"
            print(f"  {who:<9} rejects  {lead}  ({reason})" + ("" if status == 200 else f"  (HTTP {status})"))
        self.decisions[said] += 1
        if said != "accepted" or random.random() < 0.35:
            return  # rejected, or accepted and still being worked
        await asyncio.sleep(random.uniform(2.0, 8.0))
        if random.random() < 0.55:
            body = {"outcome": "sql", "note": "meeting booked"}
        else:
            body = {"outcome": "disqualified", "reason": pick(DISQUALIFY_REASONS)}
        status = await self._post(data, "qualify", body)
        outcome = body["outcome"] + (f" ({body['reason']})" if "reason" in body else "")
        print(f"  {who:<9} qualifies {lead}: {outcome}" + ("" if status == 200 else f"  (HTTP {status})"))
        self.qualifications[outcome if status == 200 else f"qualify {status}"] += 1


def where_to_look(env: dict[str, str], *, tool_running: bool) -> str:
    router, feedback, monitor = (
        env["HANDOFF_ROUTER_URL"],
        env["HANDOFF_FEEDBACK_URL"],
        env["HANDOFF_SLA_MONITOR_URL"],
    )
    tool = (
        f"http://127.0.0.1:{SDR_TOOL_PORT}/  (the reps' inbox, while the demo runs)"
        if tool_running
        else "examples/sdr-tool (it ran during the demo: see its README to run it yourself)"
    )
    return f"""Where to look (admin token: HANDOFF_ADMIN_TOKEN in .run/stack.env,
  print it with `grep HANDOFF_ADMIN_TOKEN .run/stack.env`; send it as `Authorization: Bearer ...`):
  Feedback dashboard     {feedback}/  fills up live: it asks for the admin token once, in a
                         password field (kept for the tab only, never put in a URL)
  Router API docs        {router}/docs
  Overdue now (SLA)      {monitor}/v1/sla/overdue  and  {monitor}/v1/sla/timers/<assignment_id>
  Reference SDR tool     {tool}
  Unassigned queue       {router}/v1/queue       Rep load  {router}/v1/reps/load
  Callback deliveries    {router}/v1/deliveries, /v1/callbacks/endpoints
  Metrics                {router}/metrics  {monitor}/metrics  {feedback}/metrics
  Addresses, token, logs .run/stack.env, .run/logs/      Stop everything: make down"""


def report_sla_demo(sla_lead: SlaLead, seen: list[dict[str, Any]], monitor_url: str) -> None:
    """Say what the sla-demo lead went through, and loudly what it did not."""
    attempts = [d for d in seen if d["lead_id"] == sla_lead.lead_id]
    first = next((d for d in attempts if d["attempt"] == 1), None)
    again = next((d for d in attempts if d["attempt"] == 2), None)
    missing = [level for level in SLA_LEVELS if level not in sla_lead.steps]
    if first is None:
        print(f"\nWARNING: the sla-demo lead {sla_lead.lead_id} was never assigned: see .run/logs/router.log")
        return
    timer = f"{monitor_url}/v1/sla/timers/{first['assignment_id']}"
    if missing or again is None:
        print(
            f"\nWARNING: the sla-demo lead {sla_lead.lead_id} did not go through its whole ladder:"
            f" seen {sla_lead.steps or 'no step'}, missing {missing or 'none'};"
            f" reassigned to another rep: {'yes' if again else 'no'}."
            f"\n  Look at its timer ({timer}, admin token) and .run/logs/sla-monitor.log, router.log."
        )
        return
    print(
        f"\nThe sla-demo lead {sla_lead.lead_id}: {' -> '.join(sla_lead.steps)}, then assigned to"
        f" {again['rep_id']} (attempt 2, previous rep {again['previous_rep_id']}). Its timer: {timer}"
    )


async def show_callbacks(router: httpx.AsyncClient, tool: httpx.AsyncClient, reps: set[str]) -> None:
    """What the SDR tool received, and each endpoint's circuit, once the backlog is delivered."""
    for _ in range(150):  # up to 30 s for retries and the probe to bring the down rep's backlog
        pending = (await router.get("/v1/deliveries", params={"status": "pending"})).json()
        if not [d for d in pending if d["endpoint"].removeprefix("rep:") in reps]:
            break
        await asyncio.sleep(0.2)
    inbox = (await tool.get("/api/inbox")).json()
    print(f"\nThe SDR tool received {len(inbox)} signed callbacks (each verified, each webhook-id once).")
    for endpoint in (await router.get("/v1/callbacks/endpoints")).json():
        if endpoint["owner_id"] in reps:
            print(
                f"  {endpoint['endpoint']:<14} circuit={endpoint['circuit']:<9} "
                f"failure_streak={endpoint['failure_streak']} pending={endpoint['pending']}"
            )
    skipped = (
        await router.get("/v1/deliveries", params={"endpoint": f"rep:{DOWN_REP}", "limit": 1000})
    ).json()
    retried = sum(1 for d in skipped if d["attempts"] > 1)
    print(f"  {DOWN_REP}: {len(skipped)} callbacks, {retried} of them delivered after retries")


async def main(leads: int, rate: float) -> None:
    env = stack_env()
    print(where_to_look(env, tool_running=True), flush=True)
    admin = {"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(base_url=env["HANDOFF_ROUTER_URL"], headers=admin, timeout=30) as router:
        config = demo_config()
        response = await router.put(
            "/v1/routing-config", content=config, headers={"Content-Type": "application/yaml"}
        )
        response.raise_for_status()
        print(f"\nApplied the sample routing config as version {response.json()['version']}.")
        tokens = {rep: (await router.post(f"/v1/reps/{rep}/tokens")).json()["token"] for rep in DECIDING_REPS}

        reps = Reps(router, tokens)
        fake = Faker()
        ignored = fake_mql(fake) | {"source": "sla-demo", "campaign": "sla-demo"}
        sla_lead = SlaLead(ignored["lead_id"])
        seen: list[dict[str, Any]] = []
        stop = asyncio.Event()
        all_seen = asyncio.Event()
        watcher = asyncio.create_task(watch_assignments(env, seen, leads + 1, all_seen, stop, reps, sla_lead))
        escalations = asyncio.create_task(watch_escalations(env, sla_lead, stop))
        producer = AIOKafkaProducer(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], enable_idempotence=True)
        await producer.start()
        print(
            f"Streaming {leads} sample MQLs at about {rate}/s into lead.mql-created; reps decide as they go"
        )
        print(
            f"({', '.join(DECIDING_REPS)}).\nOne lead goes to the sla-demo team (20s SLA); nobody decides it:"
        )
        async with sdr_tool(router, env) as tool:
            try:
                await producer.send_and_wait(
                    "lead.mql-created", envelope(ignored), key=ignored["lead_id"].encode()
                )
                for n in range(leads):
                    if n == leads // 4:
                        await tool.post(f"/tools/{DOWN_REP}/down")
                        print(f"  !! {DOWN_REP}'s SDR tool goes down (answers 503)")
                    if n == 3 * leads // 4:
                        await tool.post(f"/tools/{DOWN_REP}/up")
                        print(f"  !! {DOWN_REP}'s SDR tool is back")
                    data = fake_mql(fake)
                    await producer.send_and_wait(
                        "lead.mql-created", envelope(data), key=data["lead_id"].encode()
                    )
                    await asyncio.sleep(1 / rate)
                try:
                    await asyncio.wait_for(all_seen.wait(), timeout=20)
                except TimeoutError:
                    print(
                        f"WARNING: only {len(seen)} of {leads + 1} leads assigned after 20s:"
                        " see .run/logs/router.log"
                    )
            finally:
                await producer.stop()
            await reps.finish()
            if not sla_lead.reassigned.is_set():
                print("Waiting (up to 60s) for the sla-demo lead to be reminded, escalated and reassigned...")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sla_lead.reassigned.wait(), timeout=60)

            if sla_lead.reassigned.is_set():  # then its new assignment, printed above
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sla_lead.assigned_again.wait(), timeout=20)
            await show_callbacks(router, tool, {d["rep_id"] for d in seen} | {DOWN_REP})
        stop.set()
        await asyncio.gather(watcher, escalations)
        queue = (await router.get("/v1/queue")).json()
        load = (await router.get("/v1/reps/load")).json()

    report_sla_demo(sla_lead, seen, env["HANDOFF_SLA_MONITOR_URL"])
    print(f"\n{len(seen)} assignments seen; {queue['total']} lead(s) waiting in the unassigned queue.")
    print("Decisions made by the demo reps:", dict(reps.decisions))
    print("Accepted leads they qualified (lead.qualified):", dict(reps.qualifications))
    print("Load per rep:")
    for row in load:
        print(
            f"  {row['rep_id']:<9} open={row['open']:<3} today={row['assigned_today']:<3} "
            f"max_open={row['max_open']} available={row['available']}"
        )
    print()
    print(where_to_look(env, tool_running=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=120)
    parser.add_argument("--rate", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=None, help="repeat the same leads and decisions")
    args = parser.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
        Faker.seed(args.seed)
    asyncio.run(main(args.leads, args.rate))
