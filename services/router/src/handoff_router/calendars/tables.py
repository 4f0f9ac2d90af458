"""The calendars feature's table: each rep's feed, its busy spans as last read, and its health."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from handoff_router.metadata import metadata

# One row per rep with a ``calendar_url``. ``busy`` keeps the last spans read successfully
# ([[start, end], ...] in RFC 3339, UTC): a feed that fails keeps them, with the error beside.
rep_calendars = Table(
    "rep_calendars",
    metadata,
    Column("rep_id", String(200), primary_key=True),
    Column("url", Text, nullable=False),
    Column("busy", JSONB, nullable=False, server_default="[]"),
    Column("events", Integer, nullable=False, server_default="0"),
    Column("read_at", DateTime(timezone=True), nullable=True),  # last successful read
    Column("next_read_at", DateTime(timezone=True), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),  # None once a read succeeds again
)
Index("rep_calendars_due", rep_calendars.c.next_read_at)
