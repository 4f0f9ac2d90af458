"""The hostile suite: bad input and hostile answers against the local stack of ``make up``,
each followed by a canary (canary.py) proving the system still assigns and publishes once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.hostile.canary import Canary
from tests.integration.conftest import admin, engine, producer, receiver, stack  # noqa: F401  (shared fixtures)
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def canary(
    stack: Stack,  # noqa: F811
    producer: AIOKafkaProducer,  # noqa: F811
    engine: AsyncEngine,  # noqa: F811
    admin: httpx.AsyncClient,  # noqa: F811
) -> AsyncIterator[Canary]:
    canary = await Canary(stack, producer, engine, admin).start()
    yield canary
    await canary.stop()
