"""The assignments feature's tables: assignments, and the routing state they are decided from
(each team's rotation, each rep's load and availability: what ``routing.engine.route`` reads)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from handoff_router.metadata import SCHEMA, metadata

# One row: the rotation of every team. Locking it serialises routing across replicas,
# which is what keeps several routers fair and free of double assignment.
routing_state = Table(
    "routing_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rotation", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rep_load = Table(
    "rep_load",
    metadata,
    Column("rep_id", String(200), primary_key=True),
    Column("open", Integer, nullable=False, server_default="0"),
    Column("day", Date, nullable=True),
    Column("today", Integer, nullable=False, server_default="0"),
)

rep_availability = Table(
    "rep_availability",
    metadata,
    Column("rep_id", String(200), primary_key=True),
    Column("available", Boolean, nullable=False),
    Column("until", DateTime(timezone=True), nullable=True),
    Column("reason", String(50), nullable=True),  # sla_auto_paused when the router paused the rep
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("lead_id", String(200), nullable=False),
    Column("rep_id", String(200), nullable=False),
    Column("team_id", String(200), nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("previous_rep_id", String(200), nullable=True),
    Column("status", String(20), nullable=False),  # pending | accepted | rejected | reassigned
    Column("config_version", Integer, ForeignKey(f"{SCHEMA}.routing_configs.version"), nullable=True),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("sla_due_at", DateTime(timezone=True), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reason", String(100), nullable=True),
    Column("note", Text, nullable=True),
    Column("explanation", JSONB, nullable=False),
    Column("lead", JSONB, nullable=False),
    Column("mql_event_id", Text, nullable=False),
    Column("excluded_reps", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    # SAL -> SQL (CONTRACT §9): what the rep said the accepted lead became, set once.
    Column("qualification_outcome", String(20), nullable=True),  # sql | disqualified
    Column("qualification_reason", String(100), nullable=True),
    Column("qualification_note", Text, nullable=True),
    Column("qualified_at", DateTime(timezone=True), nullable=True),
)
Index(
    "assignments_one_open_per_lead",
    assignments.c.lead_id,
    unique=True,
    postgresql_where=assignments.c.status == "pending",
)
Index("assignments_by_rep_status", assignments.c.rep_id, assignments.c.status, assignments.c.assigned_at)
Index("assignments_by_lead", assignments.c.lead_id)
# Retention finds decided assignments by when they were decided (handoff_router/retention.py).
Index("assignments_decided", assignments.c.decided_at, postgresql_where=assignments.c.status != "pending")
