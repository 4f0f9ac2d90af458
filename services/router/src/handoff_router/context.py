"""What every feature of the router shares, built once in the app factory: sessions, the clock,
the routing config cache, settings, and the nudges that wake background work after a commit.

Features take the context, never each other's services: a feature's service reaches another
feature's tables only through that feature's repository functions, inside its own unit of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from handoff_shared.db import transaction
from handoff_shared.stopping import wait_or_stop
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.configs.repository import ConfigCache
from handoff_router.settings import RouterSettings

AssignedHook = Callable[[AsyncSession, Sequence[Mapping[str, Any]]], Awaitable[None]]
"""Called with the session and the ``assignments`` rows a unit of work has just written, in its
transaction (e.g. callback deliveries, written with the assignment or not at all)."""


def utc_now() -> datetime:
    """The clock of the edges; the routing core is always handed ``now``."""
    return datetime.now(UTC)


class Wakeable(Protocol):
    def wake(self) -> None: ...


class Wakeup:
    """A nudge for a background worker: whoever commits work for it wakes it, and it also runs
    every ``interval`` as a safety net. In a process that runs no workers, nobody waits on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, stop: asyncio.Event, interval: float) -> None:
        """Until woken, stopped, or ``interval`` seconds have passed."""
        await wait_or_stop(stop, interval, self._event)
        self._event.clear()


@dataclass(frozen=True)
class RouterContext:
    """The router's shared plumbing, handed to each feature's service."""

    settings: RouterSettings
    sessions: async_sessionmaker[AsyncSession]
    configs: ConfigCache
    relay: Wakeable
    clock: Callable[[], datetime] = utc_now
    queue_changed: Wakeup = field(default_factory=Wakeup)
    on_assigned: list[AssignedHook] = field(default_factory=list)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work; once it has committed, the outbox relay publishes what it wrote."""
        async with transaction(self.sessions) as session:
            yield session
        self.relay.wake()
