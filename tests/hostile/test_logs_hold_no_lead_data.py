"""Real traffic with a lead's personal data, the awkward paths included (an invalid MQL, one
the database cannot store, a rejection whose note quotes an address), and then the logs of
the whole stack (.run/logs) and the dead letters' headers hold none of it: no e-mail address,
no name, no company, no phone."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from tests.hostile.canary import Canary, header, subject_of
from tests.integration.routing_configs import Territory
from tests.stack import (
    ROOT,
    Stack,
    TopicWatcher,
    committed_offset,
    eventually,
    mql_data,
    structured_event,
    unique,
)

pytestmark = pytest.mark.integration
LOGS = ROOT / ".run" / "logs"
ROUTER_GROUP, FEEDBACK_GROUP = "handoff-router", "handoff-feedback-outcomes"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def person(tag: str, n: int, **extra: Any) -> dict[str, Any]:
    """An MQL whose personal fields each hold a token found nowhere else."""
    fields: dict[str, Any] = {
        "email": f"zelda.{tag}.{n}@lead-{tag}.example.org",
        "first_name": f"Zelda{tag}{n}",
        "last_name": f"Quimby{tag}{n}",
        "phone": f"+1 415 555 {n:04d}",
        "title": f"Head of Things {tag}{n}",
        "company": {"name": f"Corp{tag}{n} GmbH", "domain": f"corp{tag}{n}.example.org", "employees": 50},
        "country": "DE",
    }
    return mql_data(unique(f"logs{n}"), **(fields | extra))


def log_sizes() -> dict[Path, int]:
    return {path: path.stat().st_size for path in LOGS.glob("*.log")}


def written_since(sizes: dict[Path, int]) -> dict[str, str]:
    """What each log file gained since ``sizes`` (a file rotated meanwhile: all of it)."""
    found: dict[str, str] = {}
    for path in LOGS.glob("*.log"):
        start = sizes.get(path, 0)
        with path.open("rb") as file:
            if file.seek(0, 2) < start:
                start = 0
            file.seek(start)
            found[path.name] = file.read().decode(errors="replace")
    return found


async def test_a_full_run_leaves_no_lead_data_in_logs_or_dead_letter_headers(
    stack: Stack, producer: AIOKafkaProducer, admin: httpx.AsyncClient, canary: Canary
) -> None:
    sizes = log_sizes()
    tag = unique("t").replace("-", "")
    territory = Territory.new()
    await territory.apply(admin)
    accepted, rejected = person(tag, 1), person(tag, 2)
    invalid = person(tag, 3, score="lots", mql_at="yesterday")
    unstorable = person(tag, 4, last_name=f"Quimby{tag}4\u0000")  # PostgreSQL text holds no NUL
    leads = [accepted, rejected, invalid, unstorable]
    secrets = [
        value
        for lead in leads
        for value in (lead["email"], lead["first_name"], lead["last_name"].rstrip("\0"), lead["phone"],
                      lead["title"], lead["company"]["name"], lead["company"]["domain"])
    ]  # fmt: skip

    watcher = await TopicWatcher(stack.kafka, "lead.assigned").start()
    try:
        sent = [
            await producer.send_and_wait(
                "lead.mql-created", structured_event(lead), key=lead["lead_id"].encode()
            )
            for lead in leads
        ]
        wanted = [accepted["lead_id"], rejected["lead_id"]]
        assignments = {
            json.loads(r.value)["data"]["lead_id"]: json.loads(r.value)["data"]
            for r in await watcher.wait_for(lambda r: subject_of(r) in wanted, count=2, timeout=60)
        }
    finally:
        await watcher.stop()
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as router:
        for lead, action, body in (
            (accepted, "accept", None),
            (rejected, "reject", {"reason": "other", "note": f"wrote to {rejected['email']}, no answer"}),
        ):
            assignment = assignments[lead["lead_id"]]
            token = await territory.token(admin, assignment["rep_id"])
            response = await router.post(
                f"/v1/assignments/{assignment['assignment_id']}/{action}",
                headers={"Authorization": f"Bearer {token}"},
                json=body,
            )
            assert response.status_code == 200, response.text

    # The invalid and the unstorable MQL are dead-lettered by the router; feedback reads the
    # same topic and stores every lead's data too.
    bad = {invalid["lead_id"], unstorable["lead_id"]}

    async def dead_lettered() -> list[Any] | None:
        records = await canary.dead_letters(lambda r: r.key is not None and r.key.decode() in bad)
        services = {(r.key, header(r, "error.service")) for r in records}
        return records if {key for key, _ in services} == {k.encode() for k in bad} else None

    records = await eventually(dead_lettered, timeout=120, interval=1, what="both bad MQLs dead-lettered")
    await canary.check(territory=territory)  # and the system still assigns, once

    for record in records:
        reasons = " ".join(value.decode(errors="replace") for _, value in record.headers or ())
        assert not [s for s in secrets if s in reasons], reasons
        assert not EMAIL.search(reasons), reasons

    async def read_by_every_service() -> bool:  # each consumer of the topic committed past them
        for group in (ROUTER_GROUP, FEEDBACK_GROUP):
            for metadata in sent:
                partition = TopicPartition(metadata.topic, metadata.partition)
                if await committed_offset(stack.kafka, group, partition) <= metadata.offset:
                    return False
        return True

    await eventually(read_by_every_service, timeout=120, interval=1, what="router and feedback to read them")
    logs = written_since(sizes)
    leaked = {
        name: sorted({s for s in secrets if s in text} | set(EMAIL.findall(text)))
        for name, text in logs.items()
    }
    assert {name: found for name, found in leaked.items() if found} == {}
