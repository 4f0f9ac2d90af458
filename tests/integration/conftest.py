"""Fixtures over the real local stack of ``make up``: Kafka, PostgreSQL and the services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.callback_receiver import Receiver
from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, start_producer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack.from_env_file()


@pytest.fixture(scope="session")
async def producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    producer = await start_producer(stack.kafka)
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(stack.database_url, pool_size=2, pool_pre_ping=True)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def admin(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack.router_url, headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def territory(admin: httpx.AsyncClient) -> Territory:
    """A routing config of this test's own, active: its reps and teams only (a lead from any
    country is assigned), whatever config or rep availability earlier tests left behind."""
    territory = Territory.new()
    await territory.apply(admin)
    return territory


@pytest.fixture
async def router_http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The router without credentials."""
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as client:
        yield client


async def _watch(stack: Stack, topic: str) -> AsyncIterator[TopicWatcher]:
    watcher = await TopicWatcher(stack.kafka, topic).start()
    yield watcher
    await watcher.stop()


@pytest.fixture
async def assigned(stack: Stack) -> AsyncIterator[TopicWatcher]:
    async for watcher in _watch(stack, "lead.assigned"):
        yield watcher


@pytest.fixture
async def accepted(stack: Stack) -> AsyncIterator[TopicWatcher]:
    async for watcher in _watch(stack, "lead.accepted"):
        yield watcher


@pytest.fixture
async def rejected(stack: Stack) -> AsyncIterator[TopicWatcher]:
    async for watcher in _watch(stack, "lead.rejected"):
        yield watcher


@pytest.fixture
async def dead_letters(stack: Stack) -> AsyncIterator[TopicWatcher]:
    async for watcher in _watch(stack, "lead.mql-created.dlq"):
        yield watcher


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server on loopback standing in for SDR tools (tests/callback_receiver.py)."""
    server = await Receiver().start()
    yield server
    await server.stop()
