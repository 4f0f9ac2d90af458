"""Database plumbing: the async engine, sessions, and the tables every service keeps."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql.elements import ColumnElement

PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled connection idle longer than this is pinged before use (see ``make_engine``)."""


def make_engine(url: str, *, pool_size: int = 10, schema: str | None = None) -> AsyncEngine:
    """An asyncpg engine whose connections look in the service's own schema first, and whose
    errors never show their statement's parameters.

    A connection that sat in the pool for more than ``PING_AFTER_IDLE_SECONDS`` is pinged when
    checked out, and replaced if the database does not answer (after a restart, say). One in
    steady use is not: SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and asyncpg's
    ping is three round trips (BEGIN, an empty query, ROLLBACK) before every transaction,
    which cost a busy consumer more time than its own statements. A connection that breaks
    while in use fails its unit of work, which the callers retry (``kafka.is_transient``).
    """
    connect_args: dict[str, object] = {}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": f"{schema},public", "application_name": schema}
    engine = create_async_engine(
        url,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=connect_args,
        # An error's text never carries the statement's parameters (a lead's data) into logs,
        # problem details or dead-letter headers.
        hide_parameters=True,
    )
    pool = engine.sync_engine.pool
    event.listen(pool, "checkin", _note_checkin)
    event.listen(pool, "checkout", _ping_if_idle)
    return engine


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    checked_in_at = record.info.pop("checked_in_at", None)
    if checked_in_at is None or time.monotonic() - checked_in_at <= PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:  # the pool opens a new connection and tries that one instead
        raise DisconnectionError(f"a pooled connection did not answer: {type(exc).__name__}") from exc


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column = ANY(:values)``: one array parameter, so the statement compiles once for any count."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


COPY_FROM_ROWS = 64
"""From this many rows on, ``copy_rows`` uses COPY; fewer go as one pipelined INSERT."""


async def copy_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows with COPY, in the session's transaction: far cheaper than one INSERT per row.

    Every row names the same columns; JSONB values are written as JSON text. A few rows go
    as one prepared INSERT executed for each row in a single pipeline (asyncpg's
    ``executemany``: one round trip) rather than COPY, which takes two (the COPY command,
    then the data): at a steady trickle, batches are small and round trips are the cost.
    """
    if not rows:
        return
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSONB)}
    records = [
        tuple(_json_text(row[name]) if name in json_columns else row[name] for name in columns)
        for row in rows
    ]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # The driver adapter sends BEGIN lazily, with its first statement: make it send it now,
        # or COPY would commit on its own, outside the unit of work.
        await connection.exec_driver_sql("SELECT 1")
    if len(records) >= COPY_FROM_ROWS:
        await driver.copy_records_to_table(
            table.name, schema_name=table.schema, columns=columns, records=records
        )
        return
    await driver.executemany(_insert_text(table, tuple(columns)), records)


def _insert_text(table: Table, columns: tuple[str, ...]) -> str:
    name = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
    names = ", ".join(f'"{column}"' for column in columns)
    placeholders = ", ".join(f"${number}" for number in range(1, len(columns) + 1))
    return f"INSERT INTO {name} ({names}) VALUES ({placeholders})"


def _json_text(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # integers over 64 bits: the standard encoder takes them
        return json.dumps(value, allow_nan=False)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (handlers read them after the unit of work)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back when it raises."""
    async with sessions() as session, session.begin():
        yield session


async def is_reachable(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # readiness: any failure means "not ready", and is reported as such
        return False
    return True


def outbox_table(metadata: MetaData) -> Table:
    """The transactional outbox: events written with the state change that caused them."""
    table = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("topic", String(255), nullable=False),
        Column("key", LargeBinary, nullable=True),
        Column("value", LargeBinary, nullable=True),
        Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        # Refused by the broker for good (handoff_shared.set_aside): kept, not published, until
        # an operator replays it.
        Column("set_aside_at", DateTime(timezone=True), nullable=True),
        Column("set_aside_reason", Text, nullable=True),
    )
    Index("outbox_unsent", table.c.id, postgresql_where=table.c.sent_at.is_(None))
    Index("outbox_sent_at", table.c.sent_at, postgresql_where=table.c.sent_at.is_not(None))
    return table


def processed_events_table(metadata: MetaData) -> Table:
    """Ids of the events a consumer has applied: a repeat is a no-op."""
    return Table(
        "processed_events",
        metadata,
        Column("event_id", Text, primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
