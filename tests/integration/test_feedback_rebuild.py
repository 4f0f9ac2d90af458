"""``handoff-feedback rebuild`` replays the topics into fresh aggregates identical to the live ones."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_feedback import lifecycle, send
from tests.stack import Stack, eventually, unique

pytestmark = pytest.mark.integration


async def aggregates(engine: AsyncEngine) -> tuple[list[Any], list[Any], int]:
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    'SELECT dimension, segment, "window", window_start, measure, count'
                    " FROM feedback.aggregates"
                    " WHERE count <> 0 ORDER BY 1, 2, 3, 4, 5"
                )
            )
        ).all()
        samples = (await conn.execute(text("SELECT * FROM feedback.accept_samples ORDER BY 1, 2, 3"))).all()
        leads = await conn.scalar(text("SELECT count(*) FROM feedback.leads"))
    return [tuple(r) for r in counts], [tuple(r) for r in samples], int(leads or 0)


async def test_a_rebuild_gives_identical_aggregates(
    stack: Stack, producer: AIOKafkaProducer, engine: AsyncEngine
) -> None:
    campaign = unique("rebuild")
    for number in range(10):
        for topic, type_, data in lifecycle(campaign, accept=number % 3 != 0):
            await send(producer, topic, type_, data)
    previous: list[Any] = []

    async def settled() -> tuple[list[Any], list[Any], int] | None:
        # The live consumer has counted the campaign, and nothing changed since the last look.
        now = await aggregates(engine)
        done = any(
            row[1] == f"campaign={campaign}" and row[4] == "accepted" and row[5] == 6 for row in now[0]
        )
        same = previous == [now]
        previous[:] = [now]
        return now if done and same else None

    before = await eventually(settled, timeout=60, interval=1.0, what="the live aggregates to settle")

    env = {
        **os.environ,
        "HANDOFF_KAFKA_BOOTSTRAP": stack.kafka,
        "HANDOFF_DATABASE_URL": stack.database_url,
        "HANDOFF_LOG_JSON": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handoff_feedback", "rebuild", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, err.decode()[-2000:]
    assert b"rebuilt the feedback aggregates from" in out

    after = await aggregates(engine)
    assert after[2] == before[2]
    assert after[1] == before[1]
    assert after[0] == before[0]
