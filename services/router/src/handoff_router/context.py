"""What every feature of the router shares, built once in the app factory: sessions, the clock,
the routing config cache, settings, and the nudges that wake background work after a commit.

Features take the context, never each other's services: a feature's service reaches another
feature's tables only through that feature's repository functions, inside its own unit of work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
import structlog
from handoff_shared.db import transaction
from handoff_shared.stopping import wait_or_stop
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.configs.repository import ConfigCache
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import Decision, LeadContext
from handoff_router.routing.matching import AccountIndex
from handoff_router.settings import RouterSettings

AssignedHook = Callable[[AsyncSession, Sequence[Mapping[str, Any]]], Awaitable[None]]
"""Called with the session and the ``assignments`` rows a unit of work has just written, in its
transaction (e.g. callback deliveries, written with the assignment or not at all)."""


EscalatedHook = Callable[[AsyncSession, Sequence[tuple[Any, Any]]], Awaitable[None]]
"""Called with the session and the ``(CloudEvent, LeadEscalated)`` pairs an escalation unit of work
has just seen for the first time, in its transaction."""

OffboardHook = Callable[[AsyncSession, str, str, datetime], Awaitable[dict[str, Any]]]
"""The fact "rep offboarded" (session, rep_id, successor, now), in the unit of work that offboards:
each handler moves what its feature holds of the rep and answers what it moved."""


@dataclass(frozen=True)
class LeadReengaged:
    """A fact: a person with an open assignment came back as another MQL (CONTRACT §11). No second
    assignment is made; the rep of ``assignment_id`` is told (``lead.reengaged``)."""

    assignment_id: str
    lead_id: str
    rep_id: str
    mql: Mapping[str, Any]


ReengagedHook = Callable[[AsyncSession, Sequence[LeadReengaged]], Awaitable[None]]
"""Called in the unit of work that found people coming back (e.g. to write callback deliveries)."""


class BatchMemory(Protocol):
    """What is known of a batch's people and accounts while it is routed."""

    def context_for(self, lead: Mapping[str, Any], *, fresh: bool) -> LeadContext: ...

    def existing(self, lead: Mapping[str, Any]) -> Any: ...

    def assigned(
        self, lead: Mapping[str, Any], decision: Decision, assignment_id: str, now: datetime
    ) -> Any: ...


class LeadMemory(Protocol):
    """Matches leads to accounts and recalls people (the accounts feature, wired by the root)."""

    async def recall(
        self, session: AsyncSession, leads: Sequence[Mapping[str, Any]], config: RoutingConfig, now: datetime
    ) -> BatchMemory: ...

    async def index(self, session: AsyncSession) -> AccountIndex: ...


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


log = structlog.get_logger(__name__)

QUEUE_CHANNEL = "handoff_router_queue"
"""The PostgreSQL channel of ``queue_changed``: capacity may have freed, drain the queue."""


class DatabaseWakeup(Wakeup):
    """A :class:`Wakeup` that reaches every process on the database, not only this one.

    A unit of work that may have freed capacity calls :meth:`notify` in its transaction: the
    ``NOTIFY`` is delivered when it commits (never if it rolls back), so the request has nothing
    left to do once committed. Every process that runs the woken worker :meth:`listen` s on a
    connection of its own: in Kubernetes the API pods (``HANDOFF_ROLE=api``) commit and the
    worker pods drain. A lost connection is opened again; while it is down, the worker's periodic
    run is the safety net, and it is woken once when listening again (for what it missed).
    """

    def __init__(self, channel: str) -> None:
        super().__init__()
        self.channel = channel

    async def notify(self, session: AsyncSession) -> None:
        """Wake every listener once ``session``'s transaction commits."""
        await session.execute(select(func.pg_notify(self.channel, "")))

    async def listen(self, stop: asyncio.Event, database_url: str, *, check_every: float = 30.0) -> None:
        """Until ``stop``: wake on every notification. Raises ConnectionError when the connection is
        lost (the runtime runs this again after a delay); the connection is checked every
        ``check_every`` seconds, so a silently dropped one is found too."""
        url = make_url(database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(
            url.render_as_string(hide_password=False),
            server_settings={"application_name": f"{self.channel}-listener"},
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(self.channel, lambda *_: self.wake())
            log.info("wakeup.listening", channel=self.channel)
            self.wake()  # what was notified while nobody listened
            while not stop.is_set():
                await wait_or_stop(stop, check_every, lost)
                if lost.is_set():
                    raise ConnectionError(f"the connection listening on {self.channel} was lost")
                await connection.fetchval("SELECT 1", timeout=10)
        finally:
            with contextlib.suppress(Exception):  # closing a broken connection may fail: it is gone anyway
                await connection.close(timeout=5)


@dataclass(frozen=True)
class RouterContext:
    """The router's shared plumbing, handed to each feature's service."""

    settings: RouterSettings
    sessions: async_sessionmaker[AsyncSession]
    configs: ConfigCache
    relay: Wakeable
    clock: Callable[[], datetime] = utc_now
    queue_changed: DatabaseWakeup = field(default_factory=lambda: DatabaseWakeup(QUEUE_CHANNEL))
    on_assigned: list[AssignedHook] = field(default_factory=list)
    on_escalated: list[EscalatedHook] = field(default_factory=list)
    on_offboarded: list[OffboardHook] = field(default_factory=list)
    # Other features' checks of a config before it is applied (problems refuse it whole), and
    # what they do in the unit of work that applies it (e.g. calendars: read the new feeds).
    config_checks: list[Callable[[Any], list[Any]]] = field(default_factory=list)
    on_config_applied: list[Callable[[AsyncSession, Any], Awaitable[None]]] = field(default_factory=list)
    # Other features' fields of each rep in ``GET /v1/reps/load`` (rep id -> fields).
    load_extras: list[Callable[[AsyncSession, datetime], Awaitable[dict[str, dict[str, Any]]]]] = field(
        default_factory=list
    )
    # Extra routing inputs found by other features at the start of each run (e.g. calendars):
    # each answers fields of ``RoutingState`` to replace.
    routing_inputs: list[Callable[[AsyncSession, datetime], Awaitable[dict[str, Any]]]] = field(
        default_factory=list
    )
    memory: LeadMemory | None = None
    on_reengaged: list[ReengagedHook] = field(default_factory=list)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work; once it has committed, the outbox relay publishes what it wrote."""
        async with transaction(self.sessions) as session:
            yield session
        self.relay.wake()
