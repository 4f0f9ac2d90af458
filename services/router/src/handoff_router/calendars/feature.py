"""The calendars feature: reads each rep's ``calendar_url`` when a config naming it is applied
and then every ``HANDOFF_CALENDAR_REFRESH``, and tells routing who is away by their calendar.

Reading is off the routing path: a background task fetches (bounded concurrency, timeouts,
size cap, the callbacks' address guard) and parses in a separate process (parsing a year of
recurring events is CPU work that would otherwise hold the event loop routing runs on).
Routing reads the stored spans through a cache of a few seconds, one query per refresh. A feed
that fails keeps its last known spans; the error shows in ``/v1/reps/load``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from handoff_shared.addresses import url_problems
from handoff_shared.stopping import wait_or_stop
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.calendars import repository
from handoff_router.calendars.busy import BusyReading, FeedRefused, Span, read_busy
from handoff_router.calendars.fetch import FetchRefused, fetch_feed
from handoff_router.context import RouterContext
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import is_away_by_calendar
from handoff_router.routing.problems import Problem

log = structlog.get_logger(__name__)
CACHE_SECONDS = 5.0
RETRY_FAILED = timedelta(minutes=5)  # a failing feed is tried again sooner than the refresh
POLL_SECONDS = 30.0
LOOK_BACK = timedelta(days=1)  # an all-day event that began yesterday on the rep's clock


@dataclass
class Calendars:
    """Reads feeds and answers who is away by their calendar."""

    context: RouterContext
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _cache: tuple[float, dict[str, tuple[Span, ...]]] = (0.0, {})
    _pool: ProcessPoolExecutor | None = None

    def config_problems(self, config: RoutingConfig) -> list[Problem]:
        """Every calendar URL of a config that may not be read (the outbound address rule)."""
        policy = self.context.settings.outbound_addresses
        return [
            Problem(f"reps[{index}].calendar_url", message)
            for index, rep in enumerate(config.reps)
            if rep.calendar_url is not None
            for message in url_problems(rep.calendar_url, policy)
        ]

    async def on_config_applied(self, session: AsyncSession, version: Any) -> None:
        """The feeds of the new config are read as soon as it commits."""
        urls = {rep.id: rep.calendar_url for rep in version.config.reps if rep.calendar_url is not None}
        await repository.sync_feeds(session, urls, self.context.clock())
        event.listen(session.sync_session, "after_commit", lambda _: self._wake.set(), once=True)
        self._cache = (0.0, {})

    async def routing_input(self, session: AsyncSession, now: datetime) -> dict[str, Any]:
        """``RoutingState.calendar``: each rep's busy spans, from a cache a few seconds old."""
        read_at, spans = self._cache
        if time.monotonic() - read_at > CACHE_SECONDS:
            rows = await repository.all_feeds(session)
            spans = {row.rep_id: repository.spans_of(row.busy, now) for row in rows if row.busy}
            self._cache = (time.monotonic(), spans)
        return {"calendar": spans}

    async def load_fields(self, session: AsyncSession, now: datetime) -> dict[str, dict[str, Any]]:
        """Each rep's calendar in ``/v1/reps/load``; a rep away by it shows unavailable (calendar)."""
        out: dict[str, dict[str, Any]] = {}
        for row in await repository.all_feeds(session):
            spans = repository.spans_of(row.busy, now)
            busy_now = is_away_by_calendar(spans, now)
            fields: dict[str, Any] = {
                "calendar": {
                    "busy_now": busy_now,
                    "busy_until": next((end for start, end in spans if start <= now < end), None),
                    "next_busy": [[start, end] for start, end in spans[:3]],
                    "read_at": row.read_at,
                    "events": row.events,
                    "error": row.last_error,
                    "failed_at": row.failed_at,
                }
            }
            if busy_now:
                fields.update(available=False, unavailable_reason="calendar")
            out[row.rep_id] = fields
        return out

    async def run(self, stop: asyncio.Event) -> None:
        """Read due feeds until ``stop``: woken by a config applied, else every ``POLL_SECONDS``."""
        settings = self.context.settings
        timeout = settings.calendar_timeout.total_seconds()
        # A process of its own (spawned: nothing of this one's threads and connections is copied).
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=settings.calendar_concurrency),
            ) as client:
                while not stop.is_set():
                    self._wake.clear()
                    try:
                        while await self.refresh_due(client) and not stop.is_set():
                            pass
                    except Exception as exc:  # the next round tries again; routing goes on
                        log.warning("calendar.refresh_failed", error=type(exc).__name__)
                    await wait_or_stop(stop, POLL_SECONDS, self._wake)
        finally:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    async def refresh_due(self, client: httpx.AsyncClient) -> int:
        """Read the feeds that are due (up to a batch); answer how many were read."""
        settings = self.context.settings
        now = self.context.clock()
        batch = settings.calendar_concurrency * 4
        async with self.context.transaction() as session:
            due = await repository.claim_due(session, now, batch, now + settings.calendar_timeout * 3)
        if not due:
            return 0
        version = None
        async with self.context.sessions() as session:
            version = await self.context.configs.active(session)
        zones = {rep.id: rep.timezone for rep in version.config.reps} if version else {}
        gate = asyncio.Semaphore(settings.calendar_concurrency)
        results = await asyncio.gather(
            *(self._read(client, gate, row, zones.get(row.rep_id, "UTC")) for row in due)
        )
        done = self.context.clock()
        async with self.context.transaction() as session:
            for row, result in zip(due, results, strict=True):
                if isinstance(result, BusyReading):
                    await repository.record_read(
                        session,
                        row.rep_id,
                        row.url,
                        result.spans,
                        result.events,
                        done,
                        done + settings.calendar_refresh,
                    )
                else:
                    log.info("calendar.read_failed", rep_id=row.rep_id, reason=result)
                    await repository.record_failure(
                        session,
                        row.rep_id,
                        row.url,
                        result,
                        done,
                        done + min(RETRY_FAILED, settings.calendar_refresh),
                    )
        self._cache = (0.0, {})
        return len(due)

    async def _read(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore, row: Any, timezone: str
    ) -> BusyReading | str:
        settings = self.context.settings
        async with gate:
            try:
                feed = await fetch_feed(
                    client,
                    row.url,
                    settings.outbound_addresses,
                    settings.calendar_max_bytes,
                    settings.calendar_timeout.total_seconds(),
                )
            except FetchRefused as error:
                return str(error)
        now = self.context.clock()
        start, end = now - LOOK_BACK, now + settings.calendar_horizon
        try:
            if self._pool is None:
                return read_busy(feed, timezone, start, end)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, read_busy, feed, timezone, start, end)
        except FeedRefused as error:
            return str(error)


def install(context: RouterContext) -> Calendars:
    """Check calendar URLs with configs, read feeds when applied and on schedule, feed routing."""
    return Calendars(context)  # the root wires its checks, inputs and handlers
