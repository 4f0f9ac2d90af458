"""`make up` right after a part was told to stop: it waits for the part to stop, then starts
it, instead of giving up on a PostgreSQL that is shutting down ("is not answering")."""

from __future__ import annotations

import signal

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.conftest import kill_part, make_up, part_pid, stop_postgres
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["fast-shutdown", "smart-shutdown"])
async def test_make_up_right_after_postgres_was_told_to_stop(
    engine: AsyncEngine, sig: signal.Signals
) -> None:
    stop_postgres(sig)
    took = make_up()
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT 1")) == 1
    print(f"PostgreSQL stopped with {sig.name}: make up recovered in {took:.1f}s")


async def test_make_up_right_after_the_broker_and_a_service_were_told_to_stop(stack: Stack) -> None:
    broker, router = part_pid("kafka"), part_pid("router")
    kill_part("kafka", signal.SIGTERM)
    kill_part("router", signal.SIGTERM)
    took = make_up()
    assert part_pid("kafka") != broker
    assert part_pid("router") != router
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{stack.router_url}/readyz")).status_code == 200
    print(f"broker and router stopped with SIGTERM: make up recovered in {took:.1f}s")
