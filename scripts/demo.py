"""The live demo of ``make run``: applies the sample routing config, streams realistic MQLs
(Faker) into ``lead.mql-created``, shows each assignment as it happens, lets a few reps
accept or reject, then says where to look.

    uv run python scripts/demo.py [--leads 120] [--rate 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
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


async def watch_assignments(
    env: dict[str, str], seen: list[dict[str, Any]], wanted: int, all_seen: asyncio.Event, stop: asyncio.Event
) -> None:
    bootstrap = env["HANDOFF_KAFKA_BOOTSTRAP"]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition("lead.assigned", p) for p in await partitions_of(bootstrap, "lead.assigned")]
    consumer.assign(partitions)
    for partition, offset in (await consumer.end_offsets(partitions)).items():
        consumer.seek(partition, offset)
    try:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    data = json.loads(record.value)["data"]
                    seen.append(data)
                    if len({d["lead_id"] for d in seen}) >= wanted:
                        all_seen.set()
                    lead = data["lead"]
                    print(
                        f"  {lead['lead_id']}  {lead['country']}"
                        f"  {lead['company'].get('employees', '?'):>6} emp"
                        f"  -> {data['rep_id']:<9} team={data['team_id']:<14} rule={data['rule_id']}"
                        f"  ({data['explanation'].get('matched_by', '')}, attempt {data['attempt']})"
                    )
    finally:
        await consumer.stop()


async def decide_some(
    router: httpx.AsyncClient, tokens: dict[str, str], seen: list[dict[str, Any]]
) -> Counter[str]:
    """Reps accept most of their leads and reject some with a reason, as an SDR tool would."""

    outcomes: Counter[str] = Counter()
    for data in list(seen):
        token = tokens.get(data["rep_id"])
        if token is None or random.random() < 0.3:
            continue
        headers = {"Authorization": f"Bearer {token}"}
        if random.random() < 0.75:
            response = await router.post(f"/v1/assignments/{data['assignment_id']}/accept", headers=headers)
            outcomes["accepted" if response.status_code == 200 else f"accept {response.status_code}"] += 1
        else:
            reason = random.choice(REJECT_REASONS)
            response = await router.post(
                f"/v1/assignments/{data['assignment_id']}/reject", headers=headers, json={"reason": reason}
            )
            outcomes[
                f"rejected ({reason})" if response.status_code == 200 else f"reject {response.status_code}"
            ] += 1
    return outcomes


async def main(leads: int, rate: float) -> None:
    env = stack_env()
    admin = {"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(base_url=env["HANDOFF_ROUTER_URL"], headers=admin, timeout=30) as router:
        config = (ROOT / "deploy" / "local" / "sample-routing.yaml").read_text()
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
        watcher = asyncio.create_task(watch_assignments(env, seen, leads, all_seen, stop))
        producer = AIOKafkaProducer(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], enable_idempotence=True)
        await producer.start()
        fake = Faker()
        print(f"Streaming {leads} sample MQLs at about {rate}/s into lead.mql-created:")
        try:
            for _ in range(leads):
                data = fake_mql(fake)
                await producer.send_and_wait("lead.mql-created", envelope(data), key=data["lead_id"].encode())
                await asyncio.sleep(1 / rate)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_seen.wait(), timeout=20)
        finally:
            await producer.stop()
        outcomes = await decide_some(router, tokens, seen)
        await asyncio.sleep(1)
        stop.set()
        await watcher
        queue = (await router.get("/v1/queue")).json()
        load = (await router.get("/v1/reps/load")).json()

    print(f"\n{len(seen)} assignments seen; {queue['total']} lead(s) waiting in the unassigned queue.")
    print("Decisions made by the demo reps:", dict(outcomes))
    print("Load per rep:")
    for row in load:
        print(
            f"  {row['rep_id']:<9} open={row['open']:<3} today={row['assigned_today']:<3} "
            f"max_open={row['max_open']} available={row['available']}"
        )
    print(f"""
Where to look:
  Router API docs        {env["HANDOFF_ROUTER_URL"]}/docs
  Active routing config  {env["HANDOFF_ROUTER_URL"]}/v1/routing-config  (admin token)
  Unassigned queue       {env["HANDOFF_ROUTER_URL"]}/v1/queue  (admin token)
  Rep load               {env["HANDOFF_ROUTER_URL"]}/v1/reps/load  (admin token)
  Metrics                {env["HANDOFF_ROUTER_URL"]}/metrics
  SLA monitor / feedback {env["HANDOFF_SLA_MONITOR_URL"]}/readyz  {env["HANDOFF_FEEDBACK_URL"]}/readyz
  Addresses and token    .run/stack.env      Logs: .run/logs/
  Stop everything        make down""")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=120)
    parser.add_argument("--rate", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.rate))
