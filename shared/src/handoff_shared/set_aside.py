"""Outbox rows the broker refuses for good, set aside so the rows behind them are published.

A refusal for good is one no retry can change: the record is larger than the broker takes,
the topic does not exist or may not be written, the record is invalid. The row stays in its
outbox table, marked ``set_aside_at`` with the reason, where operators list it and, once
the cause is fixed (the topic created, its size limit raised), replay it: replaying clears
the mark and the relay publishes the row like any other (``handoff dlq``, docs/operations.md).

A dead letter refused for its size still reaches its dead-letter topic: a copy with the
first ``TRUNCATED_VALUE_BYTES`` of the value, the reason headers, and in ``handoff.set-aside``
the address of the set-aside row holding the whole record.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka.errors import BrokerResponseError, MessageSizeTooLargeError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from handoff_shared.topics import DLQ_REASON_HEADER_NAMES, DLQ_SUFFIX

REFUSED_FOR_GOOD = frozenset(
    {
        2,  # CORRUPT_MESSAGE
        10,  # MESSAGE_TOO_LARGE
        17,  # INVALID_TOPIC_EXCEPTION
        18,  # RECORD_LIST_TOO_LARGE
        29,  # TOPIC_AUTHORIZATION_FAILED
        32,  # INVALID_TIMESTAMP
        43,  # UNSUPPORTED_FOR_MESSAGE_FORMAT
        87,  # INVALID_RECORD
    }
)
"""Kafka error codes that refuse a record whatever the retry."""
TOO_LARGE = frozenset({10, 18})

SET_ASIDE_HEADER = "handoff.set-aside"
"""On a truncated dead letter: where the whole record is (``outbox:<schema>/<row id>``)."""
TRUNCATED_HEADER = "handoff.truncated-from"
"""On a truncated dead letter: the size in bytes of the value it was cut from."""
TRUNCATED_VALUE_BYTES = 64 * 1024
ADDRESS_PREFIX = "outbox:"


BROKER_MAX_MESSAGE_BYTES = 1_048_588
"""Kafka's default ``message.max.bytes``: the largest record batch a broker takes."""
SPOILS_PRODUCER = frozenset({45, 47, 59})
"""OutOfOrderSequenceNumber, InvalidProducerEpoch, UnknownProducerId: the idempotent
producer's sequence numbers are off, and stay off until it is replaced."""


class TooLarge(MessageSizeTooLargeError):  # type: ignore[misc]
    """Larger than the broker takes: refused before it is sent."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the record batch is {size} bytes, more than the {limit} the broker takes")


class UnknownTopic(Exception):
    """The broker answered, and has no topic of that name this client may see."""

    errno = 3


def is_refused_for_good(error: BaseException) -> bool:
    """True when the broker refused the record itself, not when it was away or busy."""
    if isinstance(error, UnknownTopic):
        return True
    return isinstance(error, BrokerResponseError) and error.errno in REFUSED_FOR_GOOD


def spoils_producer(result: object) -> bool:
    """Whether a send's outcome means the producer must be replaced: the broker refused a
    batch (a refusal for good answered by the broker, not found out before sending), or
    the producer's sequence numbers are off."""
    if not isinstance(result, BrokerResponseError) or isinstance(result, TooLarge):
        return False
    return result.errno in SPOILS_PRODUCER or result.errno in REFUSED_FOR_GOOD


def is_too_large(error: BaseException) -> bool:
    return isinstance(error, BrokerResponseError) and error.errno in TOO_LARGE


def reason_of(error: BaseException) -> str:
    """The reason kept with a set-aside row: the error's class and message."""
    message = str(error).replace("\n", " ")[:300]
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def address(schema: str, row_id: int) -> str:
    """How operators name a set-aside row: ``outbox:<schema>/<row id>``."""
    return f"{ADDRESS_PREFIX}{schema}/{row_id}"


def parse_address(text_: str) -> tuple[str, int | None]:
    """``outbox:<schema>/<id>`` or ``outbox:<schema>`` (every row of that outbox)."""
    body = text_.removeprefix(ADDRESS_PREFIX)
    schema, _, row = body.partition("/")
    if not text_.startswith(ADDRESS_PREFIX) or not schema.isidentifier() or (row and not row.isdigit()):
        raise ValueError(f"{text_!r} is not outbox:SCHEMA/ID or outbox:SCHEMA")
    return schema, int(row) if row else None


def truncated_dead_letter(row: Any, schema: str, error: BaseException) -> dict[str, Any] | None:
    """For a dead letter refused for its size: the outbox row of its truncated copy (else None)."""
    if not row.topic.endswith(DLQ_SUFFIX) or not is_too_large(error):
        return None
    headers = [(name, base64.b64decode(raw)) for name, raw in row.headers]
    if any(name == TRUNCATED_HEADER for name, _ in headers):
        return None  # a truncated copy is never cut again
    value: bytes = row.value or b""
    kept = [
        (name, raw[:4000])
        for name, raw in headers
        if name in DLQ_REASON_HEADER_NAMES or name.startswith("ce_")
    ]
    kept.append((SET_ASIDE_HEADER, address(schema, row.id).encode()))
    kept.append((TRUNCATED_HEADER, str(len(value)).encode()))
    return {
        "topic": row.topic,
        "key": row.key[:4000] if row.key else row.key,
        "value": value[:TRUNCATED_VALUE_BYTES],
        "headers": [[name, base64.b64encode(raw).decode()] for name, raw in kept],
    }


@dataclass(frozen=True)
class SetAsideRow:
    """One set-aside outbox row, as operators see it."""

    schema: str
    id: int
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    created_at: datetime
    set_aside_at: datetime
    reason: str

    @property
    def address(self) -> str:
        return address(self.schema, self.id)


async def outbox_schemas(connection: AsyncConnection) -> list[str]:
    """The schemas holding an outbox table that can set rows aside (one per service)."""
    rows = await connection.execute(
        text(
            "SELECT table_schema FROM information_schema.columns"
            " WHERE table_name = 'outbox' AND column_name = 'set_aside_at' ORDER BY table_schema"
        )
    )
    return [row[0] for row in rows]


async def rows_set_aside(
    connection: AsyncConnection, schema: str, row_ids: Sequence[int] | None = None
) -> list[SetAsideRow]:
    """The rows of ``schema``'s outbox set aside now (or those of ``row_ids``), oldest first."""
    _check_schema(schema)
    only = " AND id = ANY(:ids)" if row_ids is not None else ""
    rows = await connection.execute(
        text(
            "SELECT id, topic, key, value, headers, created_at, set_aside_at, set_aside_reason"
            f' FROM "{schema}".outbox WHERE set_aside_at IS NOT NULL{only} ORDER BY id'
        ),
        {"ids": list(row_ids)} if row_ids is not None else {},
    )
    return [
        SetAsideRow(
            schema,
            row.id,
            row.topic,
            row.key,
            row.value,
            tuple((name, base64.b64decode(raw)) for name, raw in row.headers),
            row.created_at,
            row.set_aside_at,
            row.set_aside_reason or "",
        )
        for row in rows
    ]


async def put_back(connection: AsyncConnection, schema: str, row_ids: Sequence[int]) -> int:
    """Clear the mark of set-aside rows: the relay publishes them at its next round."""
    _check_schema(schema)
    result = await connection.execute(
        text(
            f'UPDATE "{schema}".outbox SET set_aside_at = NULL, set_aside_reason = NULL'
            " WHERE set_aside_at IS NOT NULL AND id = ANY(:ids)"
        ),
        {"ids": list(row_ids)},
    )
    return int(result.rowcount)


def _check_schema(schema: str) -> None:
    if not schema.isidentifier():
        raise ValueError(f"{schema!r} is not a schema name")
