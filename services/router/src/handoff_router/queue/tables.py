"""The queue feature's table: leads nobody can take now, waiting for capacity or for people."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from handoff_router.metadata import metadata

unassigned = Table(
    "unassigned",
    metadata,
    Column("lead_id", String(200), primary_key=True),
    Column("mql_event_id", Text, nullable=False),
    Column("lead", JSONB, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("previous_rep_id", String(200), nullable=True),
    Column("excluded_reps", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("rule_id", String(200), nullable=False),
    Column("explanation", JSONB, nullable=False),
    Column("config_version", Integer, nullable=True),
    Column("queued_at", DateTime(timezone=True), nullable=False),
)
Index("unassigned_by_queued_at", unassigned.c.queued_at)
