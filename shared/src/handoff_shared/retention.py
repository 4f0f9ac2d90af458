"""Retention: rows of the tables that grow with traffic are deleted once older than their
setting, and every table's size is a gauge.

Each service names its rules (a table, how long its rows are kept, and which rows have
expired); one background worker of the runtime applies them every ``retention_interval``.
Rows go in batches of ``retention_batch``, each batch its own short transaction: the rows
are picked by ``ctid`` with ``FOR UPDATE SKIP LOCKED`` (a row another transaction holds is
left for the next round, so no writer ever waits on the cleanup, nor it on them) and a
``lock_timeout`` bounds any other wait. No rule deletes a row the service still needs: a
pending callback, an open timer, an unpublished outbox row are never expired.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_shared import db
from handoff_shared.stopping import wait_or_stop

log = structlog.get_logger(__name__)

DELETED = Counter(
    "handoff_retention_deleted_total",
    "Rows deleted by retention, past their table's setting",
    ["service", "table"],
)
TABLE_ROWS = Gauge(
    "handoff_table_rows",
    "Live rows of each table of the service's schema (PostgreSQL's statistics, every retention round)",
    ["service", "table"],
)
TABLE_BYTES = Gauge(
    "handoff_table_bytes",
    "Size on disk of each table of the service's schema, indexes and TOAST included",
    ["service", "table"],
)
_NAME = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` (``schema.name``) that ``expired`` selects are deleted after ``keep``.

    ``expired`` is an SQL condition on the table (aliased ``x``) with the parameter
    ``:cutoff`` (now minus ``keep``), e.g. ``x.sent_at < :cutoff``.
    """

    table: str
    keep: timedelta
    expired: str

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.table):
            raise ValueError(f"{self.table!r} is not schema.table")
        if self.keep <= timedelta(0):
            raise ValueError(f"{self.table}: a retention must be positive")


async def delete_expired(
    sessions: async_sessionmaker[AsyncSession],
    rule: Rule,
    now: datetime,
    batch: int,
    stop: asyncio.Event | None = None,
) -> int:
    """Delete ``rule``'s expired rows in batches of ``batch``; answer how many went."""
    statement = text(
        f"DELETE FROM {rule.table} WHERE ctid = ANY(ARRAY("
        f"SELECT x.ctid FROM {rule.table} x WHERE {rule.expired} LIMIT :batch FOR UPDATE SKIP LOCKED))"
    )
    cutoff = now - rule.keep
    total = 0
    while stop is None or not stop.is_set():
        async with db.transaction(sessions) as session:
            await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            deleted = (await session.execute(statement, {"cutoff": cutoff, "batch": batch})).rowcount  # type: ignore[attr-defined]
        total += int(deleted)
        if deleted < batch:
            break
        await asyncio.sleep(0)  # one batch at a time: the loop serves requests between them
    return total


async def table_sizes(sessions: async_sessionmaker[AsyncSession], schema: str) -> dict[str, tuple[int, int]]:
    """Each table of ``schema``: its live rows (statistics) and its bytes on disk."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT c.relname, coalesce(s.n_live_tup, 0), pg_total_relation_size(c.oid)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
                " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
            ),
            {"schema": schema},
        )
        return {name: (int(live), int(size)) for name, live, size in rows}


class Retention:
    """The retention worker of one service: its rules, applied every ``interval``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: Sequence[Rule],
        *,
        service: str,
        schema: str,
        interval: timedelta,
        batch: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.rules = list(rules)
        self.service = service
        self.schema = schema
        self.interval = interval
        self.batch = batch
        self.clock = clock
        for rule in self.rules:
            DELETED.labels(service, rule.table.split(".")[1])

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.apply(stop)
            await self.measure()
            await wait_or_stop(stop, self.interval.total_seconds())

    async def apply(self, stop: asyncio.Event | None = None) -> dict[str, int]:
        """One round: every rule's expired rows deleted; answers how many per table."""
        deleted: dict[str, int] = {}
        for rule in self.rules:
            name = rule.table.split(".")[1]
            count = await delete_expired(self.sessions, rule, self.clock(), self.batch, stop)
            deleted[name] = count
            if count:
                DELETED.labels(self.service, name).inc(count)
                log.info("retention.deleted", table=rule.table, rows=count, keep_days=rule.keep.days)
        return deleted

    async def measure(self) -> None:
        """Set the table size gauges of the service's schema."""
        for name, (live, size) in (await table_sizes(self.sessions, self.schema)).items():
            TABLE_ROWS.labels(self.service, name).set(live)
            TABLE_BYTES.labels(self.service, name).set(size)
