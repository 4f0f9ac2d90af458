"""Which deliveries a worker may claim, by their endpoint's circuit: the one place that decides it
is the claim's SQL (``callbacks.repository.claim``), tested here on a database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from handoff_router.callbacks import repository
from handoff_shared.db import make_engine, make_sessions, transaction
from sqlalchemy import text

from tests.integration.isolated import IsolatedRouters
from tests.stack import Stack

pytestmark = pytest.mark.integration
PROBE_LEASE = timedelta(seconds=60)
MINUTE = timedelta(minutes=1)


def circuits_at(now: datetime) -> dict[str, dict[str, Any]]:
    """Each rep's endpoint circuit (its columns), as of ``now``."""
    return {
        "closed": {"status": "closed"},
        "held": {"status": "closed", "hold_until": now + MINUTE},  # a 429 asked to wait
        "hold-over": {"status": "closed", "hold_until": now - MINUTE},
        "open": {"status": "open", "probe_at": now + MINUTE},
        "probe-due": {"status": "open", "probe_at": now - MINUTE},
        "probe-due-held": {"status": "open", "probe_at": now - MINUTE, "hold_until": now + MINUTE},
        "probing": {"status": "half_open", "probe_started_at": now - PROBE_LEASE / 2},
        "probe-lapsed": {"status": "half_open", "probe_started_at": now - PROBE_LEASE},
        "gone": {"status": "gone"},
    }


SENT = {"closed": False, "hold-over": False, "probe-due": True, "probe-lapsed": True}  # rep -> as a probe


@pytest.fixture
async def isolated(stack: Stack, tmp_path: Path) -> AsyncIterator[IsolatedRouters]:
    routers = await IsolatedRouters(stack, tmp_path).create()
    try:
        yield routers
    finally:
        await routers.destroy()


async def test_the_circuit_says_who_is_sent_to_and_who_gets_the_one_probe(isolated: IsolatedRouters) -> None:
    reps = sorted(circuits_at(datetime.now(UTC)))
    work = [(rep, f"http://127.0.0.1:9/{rep}") for rep in reps for _ in range(3)]
    await isolated.enqueue(work, reps)
    now = datetime.now(UTC) + timedelta(seconds=1)  # every delivery written is due
    circuits_then = circuits_at(now)
    engine = make_engine(isolated.database_url, pool_size=1)
    sessions = make_sessions(engine)
    try:
        async with transaction(sessions) as session:
            for rep, columns in circuits_then.items():
                assignments = ", ".join(f"{name} = :{name}" for name in columns)
                await session.execute(
                    text(f"UPDATE router.callback_endpoints SET {assignments} WHERE endpoint_id = :id"),
                    {**columns, "id": f"rep:{rep}"},
                )

        async def claim() -> list[repository.Claimed]:
            async with transaction(sessions) as session:
                claims = await repository.claim(
                    session, now, limit=100, per_endpoint=10, lease=MINUTE, probe_lease=PROBE_LEASE
                )
                return claims.items

        first, again = await claim(), await claim()
        async with engine.connect() as connection:
            circuits = {
                row.endpoint_id: (row.status, row.probe_started_at)
                for row in await connection.execute(
                    text("SELECT endpoint_id, status, probe_started_at FROM router.callback_endpoints")
                )
            }
    finally:
        await engine.dispose()

    claimed: dict[str, list[bool]] = {}
    for item in first:
        claimed.setdefault(item.endpoint_id.removeprefix("rep:"), []).append(item.probe)
    # Closed circuits send everything due; a due probe goes alone, as the probe.
    assert claimed == {rep: [probe] if probe else [False] * 3 for rep, probe in SENT.items()}
    assert [item.endpoint_id for item in again] == []  # the rest leased, the probes under way
    for rep in ("probe-due", "probe-lapsed"):
        assert circuits[f"rep:{rep}"] == ("half_open", now)
    assert circuits["rep:probing"] == ("half_open", circuits_then["probing"]["probe_started_at"])
    assert circuits["rep:probe-due-held"] == ("open", None)  # held: its probe waits too
