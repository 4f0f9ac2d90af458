"""What every feature of the router shares, built once in the composition root (``bootstrap.py``):
settings, sessions, the clock, the active routing configuration, and the bus on which features
publish facts and ask questions (``facts.py``) instead of importing one another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from handoff_shared.db import transaction
from handoff_shared.http import DomainError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.bus import Bus
from handoff_router.routing.config import RoutingConfig
from handoff_router.settings import RouterSettings


def utc_now() -> datetime:
    """The clock of the edges; the routing core is always handed ``now``."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConfigVersion:
    """A stored routing configuration."""

    version: int
    config: RoutingConfig
    source: str
    sha256: str
    created_at: datetime


class ActiveConfig(Protocol):
    """The active routing configuration (the configs feature keeps it)."""

    async def active(self, session: AsyncSession) -> ConfigVersion | None: ...


class NoActiveConfig(DomainError):
    """A use case needs an active routing configuration and none has been put."""


class Wakeable(Protocol):
    def wake(self) -> None: ...


@dataclass(frozen=True)
class RouterContext:
    """The router's shared plumbing, handed to each feature's service."""

    settings: RouterSettings
    sessions: async_sessionmaker[AsyncSession]
    configs: ActiveConfig
    relay: Wakeable
    bus: Bus
    clock: Callable[[], datetime] = utc_now

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work; once it has committed, the outbox relay publishes what it wrote."""
        async with transaction(self.sessions) as session:
            yield session
        self.relay.wake()
