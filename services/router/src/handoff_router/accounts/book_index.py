"""The account index each process holds in memory, rebuilt when the book's version moves.

Any process may change the book; each bumps the version and notifies ``BOOK_CHANNEL`` in the
same transaction. Listening processes rebuild at once in the background; routing also compares
the version it reads with the index's before it matches, so a stale index is never used.
"""

from __future__ import annotations

import asyncio

import structlog
from handoff_shared.wakeup import Wakeup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.accounts import repository
from handoff_router.routing.matching import EMPTY_INDEX, AccountIndex

log = structlog.get_logger(__name__)


class BookIndex:
    """The current ``AccountIndex`` of the book."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._index = EMPTY_INDEX
        self._lock = asyncio.Lock()
        self.changed = Wakeup(repository.BOOK_CHANNEL)

    @property
    def index(self) -> AccountIndex:
        """The index as last built (possibly stale: see ``current``)."""
        return self._index

    async def current(self, session: AsyncSession) -> AccountIndex:
        """The index of the book as ``session`` sees it, rebuilt first when stale."""
        version = await repository.version(session)
        if version == self._index.version:
            return self._index
        return await self._rebuild(version)

    async def refresh(self) -> None:
        """Rebuild when the book has changed since the index was built."""
        async with self._sessions() as session:
            version = await repository.version(session)
        if version != self._index.version:
            await self._rebuild(version)

    async def _rebuild(self, version: int) -> AccountIndex:
        async with self._lock:
            if (
                self._index.version >= version and self._index.version != 0
            ) or version == 0 == self._index.version:
                return self._index
            async with self._sessions() as session:
                version = await repository.version(session)
                index = AccountIndex(version)
                count = 0
                async for account in repository.stream_all(session):
                    index.add(account)
                    count += 1
                    if count % 5000 == 0:
                        await asyncio.sleep(0)  # let requests and consumers run between pieces
            self._index = index
            log.info("accounts.index_built", version=version, accounts=count)
            return index

    async def run_refresher(self, stop: asyncio.Event) -> None:
        """Background work: rebuild when another process (or this one) changed the book."""
        while not stop.is_set():
            try:
                await self.refresh()
            except (OSError, ConnectionError) as error:  # the database is away: try again later
                log.warning("accounts.index_refresh_failed", error=str(error))
            await self.changed.wait(stop, 60.0)
