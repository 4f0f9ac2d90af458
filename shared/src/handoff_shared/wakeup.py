"""How background work is woken, in this process and in every other on the same database.

A :class:`Wakeup` belongs to one background worker. Whoever commits work for it calls
:meth:`Wakeup.notify` inside the transaction: PostgreSQL delivers the ``NOTIFY`` when the
transaction commits (never when it rolls back) to every process that :meth:`Wakeup.listen` s
on the channel, this one included. Work that is not a transaction (a circuit closing, a lease
freed) calls :meth:`Wakeup.wake`, which wakes the worker of this process only. The worker
waits with :meth:`Wakeup.wait`, and also runs every ``interval`` as the safety net for what
frees with time and for what was notified while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_shared.stopping import wait_or_stop

log = structlog.get_logger(__name__)


class Wakeup:
    """A nudge for one background worker, on the PostgreSQL channel ``channel``."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.event = asyncio.Event()

    def wake(self) -> None:
        """Wake the worker of this process now."""
        self.event.set()

    async def notify(self, session: AsyncSession) -> None:
        """Wake the worker of every listening process once ``session``'s transaction commits."""
        await session.execute(select(func.pg_notify(self.channel, "")))

    async def wait(self, stop: asyncio.Event, interval: float) -> None:
        """Until woken, stopped, or ``interval`` seconds have passed."""
        await wait_or_stop(stop, interval, self.event)
        self.event.clear()

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
