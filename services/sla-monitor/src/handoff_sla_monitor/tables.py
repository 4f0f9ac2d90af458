"""The sla-monitor service's tables, in its own schema ``sla_monitor``."""

from __future__ import annotations

from handoff_shared.db import outbox_table
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "sla_monitor"
metadata = MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)

# One row per assignment. ``assigned_at`` is NULL while only its decision has been seen (a
# decision that overtook its assignment): such a row is closed from the start, so the late
# ``lead.assigned`` fills it in without opening anything. ``next_fire_at`` is NULL for every
# timer with nothing left to fire, which keeps the scanner's index to the live ones.
timers = Table(
    "timers",
    metadata,
    Column("assignment_id", Text, primary_key=True),
    Column("lead_id", Text, nullable=False),
    Column("rep_id", Text, nullable=False),
    Column("team_id", Text, nullable=True),
    Column("manager_id", Text, nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("status", String(20), nullable=False),  # open accepted rejected superseded reassigned
    Column("assigned_at", DateTime(timezone=True), nullable=True),
    Column("sla_due_at", DateTime(timezone=True), nullable=True),
    Column("steps", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("next_step", Integer, nullable=False, server_default=text("0")),
    Column("next_fire_at", DateTime(timezone=True), nullable=True),
    Column("terms", JSONB, nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index("timers_next_fire_at", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
    Index("timers_lead_id", "lead_id"),
    Index("timers_open_due", "sla_due_at", postgresql_where=text("status = 'open'")),
    Index("timers_closed", "closed_at", postgresql_where=text("status <> 'open'")),
)

# Every step fired: (assignment_id, step) is the natural key, so a step can never fire twice.
escalations = Table(
    "escalations",
    metadata,
    Column("assignment_id", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("level", String(20), nullable=False),
    Column("lead_id", Text, nullable=False),
    Column("rep_id", Text, nullable=False),
    Column("team_id", Text, nullable=True),
    Column("manager_id", Text, nullable=True),
    Column("planned_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    Column("overdue_seconds", Float, nullable=False),
    PrimaryKeyConstraint("assignment_id", "step"),
    Index("escalations_by_fired_at", "fired_at"),
)
