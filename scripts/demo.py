"""The live demo of ``make run``: applies the sample routing config, streams realistic MQLs
(Faker) into ``lead.mql-created``, shows each assignment as it happens, lets a few reps
accept or reject and then qualify some accepted leads (SAL -> SQL), shows the SLA ladder at
work on one lead of the `sla-demo` team (20s SLA: a reminder, an escalation to the manager
and a reassignment to another rep within a minute), then says where to look. The reference
SDR tool (examples/sdr-tool) receives the signed callbacks of every demo rep and manager;
rep-ana's tool goes down for a while and comes back, so her circuit opens, routing goes
around her, and her leads arrive after.

    uv run python scripts/demo.py [--leads 120] [--rate 6]
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
REJECT_REASONS = ["wrong_persona", "not_icp", "no_intent", "bad_contact_data", "wrong_territory"]
DISQUALIFY_REASONS = [
    "no_budget",
    "no_authority",
    "no_need",
    "bad_timing",
    "unresponsive",
    "chose_competitor",
]


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
    env: dict[str, str], seen: list[dict[str, Any]], wanted: int, all_seen: asyncio.Event, stop: asyncio.Event
) -> None:
    async for data in tail(env, "lead.assigned", stop):
        seen.append(data)
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


async def watch_escalations(env: dict[str, str], reassigned: asyncio.Event, stop: asyncio.Event) -> None:
    """Print every ``lead.escalated`` from now on; set ``reassigned`` at the first reassignment."""
    async for data in tail(env, "lead.escalated", stop):
        print(
            f"  SLA {data['level']:<8} {data['lead_id']}  rep={data['rep_id']:<9}"
            f" overdue={data['overdue_seconds']:+.0f}s manager={data.get('manager_id')}"
            + (f"  ({data['reason']}: {data.get('summary')})" if data.get("reason") else "")
        )
        if data["level"] == "reassign":
            reassigned.set()


async def decide_some(
    router: httpx.AsyncClient, tokens: dict[str, str], seen: list[dict[str, Any]]
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Reps accept most of their leads and reject some with a reason, as an SDR tool would;
    answers the counts and the assignments accepted."""

    outcomes: Counter[str] = Counter()
    accepted: list[dict[str, Any]] = []
    for data in list(seen):
        token = tokens.get(data["rep_id"])
        if token is None or random.random() < 0.3:
            continue
        headers = {"Authorization": f"Bearer {token}"}
        if random.random() < 0.75:
            response = await router.post(f"/v1/assignments/{data['assignment_id']}/accept", headers=headers)
            outcomes["accepted" if response.status_code == 200 else f"accept {response.status_code}"] += 1
            if response.status_code == 200:
                accepted.append(data)
        else:
            reason = random.choice(REJECT_REASONS)
            response = await router.post(
                f"/v1/assignments/{data['assignment_id']}/reject", headers=headers, json={"reason": reason}
            )
            outcomes[
                f"rejected ({reason})" if response.status_code == 200 else f"reject {response.status_code}"
            ] += 1
    return outcomes, accepted


async def qualify_some(
    router: httpx.AsyncClient, tokens: dict[str, str], accepted: list[dict[str, Any]]
) -> Counter[str]:
    """After working them, reps say what some accepted leads became (SAL -> SQL): about a third
    become SQLs, some are disqualified with a reason, the rest are still being worked."""
    outcomes: Counter[str] = Counter()
    for data in accepted:
        if random.random() < 0.4:
            continue
        if random.random() < 0.55:
            body: dict[str, str] = {"outcome": "sql", "note": "meeting booked"}
        else:
            body = {"outcome": "disqualified", "reason": random.choice(DISQUALIFY_REASONS)}
        response = await router.post(
            f"/v1/assignments/{data['assignment_id']}/qualify",
            headers={"Authorization": f"Bearer {tokens[data['rep_id']]}"},
            json=body,
        )
        said = body["outcome"] + (f" ({body['reason']})" if "reason" in body else "")
        outcomes[said if response.status_code == 200 else f"qualify {response.status_code}"] += 1
    return outcomes


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
    admin = {"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(base_url=env["HANDOFF_ROUTER_URL"], headers=admin, timeout=30) as router:
        config = demo_config()
        response = await router.put(
            "/v1/routing-config", content=config, headers={"Content-Type": "application/yaml"}
        )
        response.raise_for_status()
        print(f"Applied the sample routing config as version {response.json()['version']}.")
        tokens = {}
        for rep in ("rep-ana", "rep-carl", "rep-dana", "rep-fay", "rep-gus", "rep-hal", "rep-jo"):
            tokens[rep] = (await router.post(f"/v1/reps/{rep}/tokens")).json()["token"]

        seen: list[dict[str, Any]] = []
        stop = asyncio.Event()
        all_seen = asyncio.Event()
        reassigned = asyncio.Event()
        watcher = asyncio.create_task(watch_assignments(env, seen, leads + 1, all_seen, stop))
        escalations = asyncio.create_task(watch_escalations(env, reassigned, stop))
        producer = AIOKafkaProducer(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], enable_idempotence=True)
        await producer.start()
        fake = Faker()
        print(f"Streaming {leads} sample MQLs at about {rate}/s into lead.mql-created,")
        print("and one for the sla-demo team (20s SLA), which nobody will decide:")
        async with sdr_tool(router, env) as tool:
            try:
                ignored = fake_mql(fake) | {"source": "sla-demo", "campaign": "sla-demo"}
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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_seen.wait(), timeout=20)
            finally:
                await producer.stop()
            outcomes, accepted = await decide_some(router, tokens, seen)
            qualifications = await qualify_some(router, tokens, accepted)
            print("Waiting for the sla-demo lead to be reminded, escalated and reassigned...")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reassigned.wait(), timeout=60)
            await asyncio.sleep(1)  # the reassigned lead's new assignment, printed above
            await show_callbacks(router, tool, {d["rep_id"] for d in seen} | {DOWN_REP})
        stop.set()
        await asyncio.gather(watcher, escalations)
        queue = (await router.get("/v1/queue")).json()
        load = (await router.get("/v1/reps/load")).json()

    print(f"\n{len(seen)} assignments seen; {queue['total']} lead(s) waiting in the unassigned queue.")
    print("Decisions made by the demo reps:", dict(outcomes))
    print("Accepted leads they qualified (lead.qualified):", dict(qualifications))
    print("Load per rep:")
    for row in load:
        print(
            f"  {row['rep_id']:<9} open={row['open']:<3} today={row['assigned_today']:<3} "
            f"max_open={row['max_open']} available={row['available']}"
        )
    print(f"""
Where to look:
  Feedback dashboard     {env["HANDOFF_FEEDBACK_URL"]}/  (paste HANDOFF_ADMIN_TOKEN from .run/stack.env)
  Router API docs        {env["HANDOFF_ROUTER_URL"]}/docs
  Active routing config  {env["HANDOFF_ROUTER_URL"]}/v1/routing-config  (admin token)
  Unassigned queue       {env["HANDOFF_ROUTER_URL"]}/v1/queue  (admin token)
  Rep load               {env["HANDOFF_ROUTER_URL"]}/v1/reps/load  (admin token)
  Metrics                {env["HANDOFF_ROUTER_URL"]}/metrics
  Callback deliveries    {env["HANDOFF_ROUTER_URL"]}/v1/deliveries, /v1/callbacks/endpoints  (admin token)
  Reference SDR tool     examples/sdr-tool (it ran at http://127.0.0.1:{SDR_TOOL_PORT}/ during the demo)
  Overdue now            {env["HANDOFF_SLA_MONITOR_URL"]}/v1/sla/overdue  (admin token)
  SLA monitor / feedback {env["HANDOFF_SLA_MONITOR_URL"]}/readyz  {env["HANDOFF_FEEDBACK_URL"]}/readyz
  Addresses and token    .run/stack.env      Logs: .run/logs/
  Stop everything        make down""")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=120)
    parser.add_argument("--rate", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.rate))
