"""Faults: a router killed with SIGKILL mid-delivery, and two routers delivering at once.
Routers here run on a database and topics of their own (tests/integration/isolated.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.callback_receiver import Receiver
from tests.integration.isolated import IsolatedRouters, secrets_key
from tests.stack import Stack, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def isolated(stack: Stack, tmp_path: Path) -> AsyncIterator[IsolatedRouters]:
    routers = await IsolatedRouters(stack, tmp_path).create()
    yield routers
    await routers.destroy()


async def test_a_router_killed_mid_delivery_loses_nothing_and_keeps_each_body(
    isolated: IsolatedRouters, receiver: Receiver
) -> None:
    first, first_log = await isolated.start_router("first")
    reps = [f"rep-{n}" for n in range(4)]
    receiver.fail("rep-0", "hang")  # the first call to rep-0 is under way when the router dies
    work = [(reps[n % 4], receiver.url(reps[n % 4])) for n in range(40)]
    secrets = await isolated.enqueue(work, reps)
    for rep, secret in secrets.items():
        receiver.trust(rep, secret)

    await eventually(
        lambda: any(name == "rep-0" for name, _, _ in receiver.arrivals), timeout=20, what="the hung call"
    )
    await isolated.kill(first)
    _, second_log = await isolated.start_router("second")

    async def all_delivered() -> bool:
        statuses = await isolated.statuses()
        return len(statuses) == 40 and all(status == "delivered" for status, _ in statuses.values())

    await eventually(all_delivered, timeout=60, what="every delivery after the restart")
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for name, webhook_id, body in receiver.arrivals:
        if name in reps:
            bodies[webhook_id].add(body)
    assert len(bodies) == 40
    assert all(len(seen) == 1 for seen in bodies.values())  # no webhook-id under two bodies
    assert all(call.verified for call in receiver.calls if call.name in reps)
    logs = first_log.read_text() + second_log.read_text()
    assert secrets_key() not in logs
    assert not any(secret.removeprefix("whsec_") in logs for secret in secrets.values())


async def test_two_routers_deliver_each_event_once(isolated: IsolatedRouters, receiver: Receiver) -> None:
    await isolated.start_router("one")
    await isolated.start_router("two")
    reps = [f"rep-{n}" for n in range(10)]
    work = [(reps[n % 10], receiver.url(reps[n % 10])) for n in range(300)]

    secrets = await isolated.enqueue(work, reps)
    for rep, secret in secrets.items():
        receiver.trust(rep, secret)

    async def all_delivered() -> dict[str, tuple[str, int]] | None:
        statuses = await isolated.statuses()
        return statuses if all(status == "delivered" for status, _ in statuses.values()) else None

    statuses = await eventually(all_delivered, timeout=60, what="300 deliveries")
    assert len(statuses) == 300
    # Other tests' endpoints may still probe a port this receiver now has: count only ours.
    ours = [call for call in receiver.calls if call.name in set(reps)]
    delivered = Counter(call.webhook_id for call in ours if call.answered == 200)
    assert len(delivered) == 300
    assert set(delivered.values()) == {1}  # each event delivered once, by one router or the other
