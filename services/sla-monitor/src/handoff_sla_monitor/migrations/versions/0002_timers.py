"""SLA timers and fired escalations; the skeleton's processed-events record goes

The skeleton consumer (group ``handoff-sla-monitor``) recorded the id of every lifecycle
event without applying any. Its record is dropped here, and the timers consumer reads
under a new group (``handoff-sla-monitor-timers``) from the earliest offset, so the first
run of the real logic replays the whole retained history and skips nothing. Timers are
idempotent by their natural keys (assignment_id; assignment_id + step), not by event id.

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "sla_monitor"


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("assignment_id", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("rep_id", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Text(), nullable=True),
        sa.Column("manager_id", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("next_step", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terms", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("assignment_id"),
        schema=SCHEMA,
    )
    op.create_index("timers_next_fire_at", "timers", ["next_fire_at"], schema=SCHEMA, postgresql_where=sa.text("next_fire_at IS NOT NULL"))
    op.create_index("timers_lead_id", "timers", ["lead_id"], schema=SCHEMA)
    op.create_index("timers_open_due", "timers", ["sla_due_at"], schema=SCHEMA, postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "escalations",
        sa.Column("assignment_id", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("rep_id", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Text(), nullable=True),
        sa.Column("manager_id", sa.Text(), nullable=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", "step"),
        schema=SCHEMA,
    )
    op.drop_table("processed_events", schema=SCHEMA)


def downgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        schema=SCHEMA,
    )
    op.drop_table("escalations", schema=SCHEMA)
    op.drop_table("timers", schema=SCHEMA)
