"""What frees capacity wakes the queue drainer of another process (issue 12, item 3).

As deployed (deploy/k8s/base/router.yaml), the API pods (``HANDOFF_ROLE=api``) take the accepts,
rejects, availability and configs, and only the worker pods (``HANDOFF_ROLE=worker``) drain the
queue. Here the same: one router of each role on a database and topics of their own
(tests/integration/isolated.py), the worker's periodic drain an hour apart, so a lead that
leaves the queue within seconds was woken by the NOTIFY the API process committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.integration.isolated import IsolatedRouters
from tests.integration.routing_configs import Territory
from tests.stack import Stack, eventually, mql_data, structured_event

pytestmark = pytest.mark.integration
PROMPTLY = 15.0  # seconds; the worker's own drain runs every hour
LISTENER = "handoff_router_queue-listener"  # the listening connection's application_name


@dataclass
class Split:
    """An API router and a worker router on one database."""

    routers: IsolatedRouters
    admin: httpx.AsyncClient  # the API process, as admin
    api: httpx.AsyncClient  # the API process, no credentials
    database: AsyncEngine

    @property
    def mql_topic(self) -> str:
        return self.routers.env(0)["HANDOFF_TOPIC_MQL_CREATED"]

    async def send(self, producer: AIOKafkaProducer, **fields: Any) -> dict[str, Any]:
        lead = mql_data(**fields)
        await producer.send_and_wait(self.mql_topic, structured_event(lead), key=lead["lead_id"].encode())
        return lead

    async def assignment_of(self, lead: dict[str, Any]) -> tuple[str, str] | None:
        """The lead's open assignment ``(assignment_id, rep_id)``, or None."""
        async with self.database.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT assignment_id, rep_id FROM router.assignments"
                        " WHERE lead_id = :lead AND status = 'pending'"
                    ),
                    {"lead": lead["lead_id"]},
                )
            ).first()
        return (row.assignment_id, row.rep_id) if row else None

    async def assigned(self, lead: dict[str, Any], *, timeout: float = 60.0) -> tuple[str, str]:
        async def found() -> tuple[str, str] | None:
            return await self.assignment_of(lead)

        return await eventually(found, timeout=timeout, what=f"lead {lead['lead_id']} assigned")

    async def queued(self, lead: dict[str, Any]) -> None:
        async def waits() -> bool:
            body = (await self.admin.get("/v1/queue", params={"limit": 1000})).json()
            return any(item["lead_id"] == lead["lead_id"] for item in body["items"])

        await eventually(waits, timeout=60, what=f"lead {lead['lead_id']} in the queue")

    async def territory(self) -> Territory:
        """A new territory, made active with the queue empty: a lead an earlier test left waiting
        would otherwise be drained onto this territory's reps (the config PUT wakes the drainer)
        and take the slot the test counts on."""
        async with self.database.begin() as connection:
            await connection.execute(text("DELETE FROM router.unassigned"))
        territory = Territory.new()
        await territory.apply(self.admin)
        return territory

    async def away(self, *reps: str) -> None:
        for rep in reps:
            response = await self.admin.put(f"/v1/reps/{rep}/availability", json={"available": False})
            assert response.status_code == 200, response.text

    async def listener_pid(self) -> int | None:
        """The worker's listening connection (its backend's pid), once it listens."""
        async with self.database.connect() as connection:
            pid = await connection.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER},
            )
        return int(pid) if pid is not None else None


@pytest.fixture(scope="module")
async def split(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Split]:
    routers = await IsolatedRouters(stack, tmp_path_factory.mktemp("wakeups")).create()
    database = create_async_engine(routers.database_url, pool_size=1)
    try:
        await routers.start_router("worker", HANDOFF_ROLE="worker", HANDOFF_QUEUE_DRAIN_INTERVAL="1h")
        await routers.start_router("api", HANDOFF_ROLE="api")
        url = routers.urls["api"]
        async with (
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30
            ) as admin,
            httpx.AsyncClient(base_url=url, timeout=30) as api,
        ):
            split = Split(routers, admin, api, database)
            await eventually(split.listener_pid, timeout=60, what="the worker listening")
            yield split
    finally:
        await database.dispose()
        await routers.destroy()


async def full_cap_and_a_waiting_lead(
    split: Split, producer: AIOKafkaProducer
) -> tuple[Territory, str, dict[str, Any]]:
    """``cap`` (max_open 1) holds one lead, the fallback is away, a second lead waits."""
    territory = await split.territory()
    await split.away(territory.fallback)
    first = await split.send(producer, country="FR")
    assignment_id, rep = await split.assigned(first)
    assert rep == territory.cap
    waiting = await split.send(producer, country="FR")
    await split.queued(waiting)
    return territory, assignment_id, waiting


async def cap_back_takes_the_waiting_lead(split: Split, producer: AIOKafkaProducer) -> None:
    """Everyone away, a lead waits; ``cap`` back on the API is assigned it promptly."""
    territory = await split.territory()
    await split.away(territory.cap, territory.fallback)
    waiting = await split.send(producer, country="FR")
    await split.queued(waiting)

    back = await split.admin.put(f"/v1/reps/{territory.cap}/availability", json={"available": True})

    assert back.status_code == 200, back.text
    assert (await split.assigned(waiting, timeout=PROMPTLY))[1] == territory.cap


async def test_an_accept_on_the_api_wakes_the_workers_drainer(
    split: Split, producer: AIOKafkaProducer
) -> None:
    territory, assignment_id, waiting = await full_cap_and_a_waiting_lead(split, producer)
    token = await territory.token(split.admin, territory.cap)

    accept = await split.api.post(
        f"/v1/assignments/{assignment_id}/accept", headers={"Authorization": f"Bearer {token}"}
    )

    assert accept.status_code == 200, accept.text
    assert (await split.assigned(waiting, timeout=PROMPTLY))[1] == territory.cap


async def test_a_wrong_territory_reject_frees_the_slot_and_wakes_the_drainer(
    split: Split, producer: AIOKafkaProducer
) -> None:
    territory, assignment_id, waiting = await full_cap_and_a_waiting_lead(split, producer)
    token = await territory.token(split.admin, territory.cap)

    reject = await split.api.post(
        f"/v1/assignments/{assignment_id}/reject",
        headers={"Authorization": f"Bearer {token}"},
        json={"reason": "wrong_territory"},
    )

    assert reject.status_code == 200, reject.text
    # The rejected lead is routed again without cap (and waits: the fallback is away); its slot
    # goes to the lead that waited.
    assert (await split.assigned(waiting, timeout=PROMPTLY))[1] == territory.cap


async def test_a_rep_back_on_the_api_wakes_the_workers_drainer(
    split: Split, producer: AIOKafkaProducer
) -> None:
    await cap_back_takes_the_waiting_lead(split, producer)


async def test_a_config_put_on_the_api_wakes_the_workers_drainer(
    split: Split, producer: AIOKafkaProducer
) -> None:
    territory, _, waiting = await full_cap_and_a_waiting_lead(split, producer)
    config = territory.config()
    for rep in config["reps"]:
        if rep["id"] == territory.cap:
            rep["max_open"] = 2

    await territory.apply(split.admin, reps=config["reps"])

    assert (await split.assigned(waiting, timeout=PROMPTLY))[1] == territory.cap


async def test_the_worker_listens_again_after_losing_its_connection(
    split: Split, producer: AIOKafkaProducer
) -> None:
    before = await split.listener_pid()
    assert before is not None
    async with split.database.connect() as connection:
        assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})

    async def listening_again() -> int | None:
        pid = await split.listener_pid()
        return pid if pid not in (None, before) else None

    await eventually(listening_again, timeout=60, what="a new listening connection")
    await cap_back_takes_the_waiting_lead(split, producer)
