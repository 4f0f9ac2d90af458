"""Fault tests: parts of the local stack are killed and stopped while leads flow, and the
stack is recovered with `make up` only (scripts/stack/up.sh, what `make up` runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.integration.conftest import admin, producer, stack  # noqa: F401  (shared fixtures)
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.integration

PG_DATA = ROOT / ".run" / "pg" / "data"


@pytest.fixture(scope="session")
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:  # noqa: F811  (the fixture above)
    """Connections checked before use: PostgreSQL is restarted under them."""
    engine = create_async_engine(stack.database_url, pool_size=2, pool_pre_ping=True)
    yield engine
    await engine.dispose()


def make_up() -> float:
    """Recover the stack the way an operator does: `make up`; answer how long it took."""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "stack" / "up.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"make up failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return time.monotonic() - started


def part_pid(name: str) -> int:
    """The process (group) id of a part started by the stack: kafka, router, sla-monitor, feedback."""
    return int((ROOT / ".run" / "pids" / f"{name}.pid").read_text())


def kill_part(name: str, sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal a part's whole process group (uv and the python or java under it)."""
    os.killpg(part_pid(name), sig)


def postmaster_pid() -> int:
    return int((PG_DATA / "postmaster.pid").read_text().split()[0])


def stop_postgres(sig: signal.Signals) -> None:
    os.kill(postmaster_pid(), sig)
