"""where reps work: a channel per callback endpoint and delivery (callback | slack | email); rep calendars

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("callback_endpoints", "callback_deliveries"):
        op.add_column(
            table,
            sa.Column("channel", sa.String(10), nullable=False, server_default="callback"),
            schema="router",
        )
    op.create_table(
        "rep_calendars",
        sa.Column("rep_id", sa.String(200), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("busy", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("events", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        schema="router",
    )
    op.create_index("rep_calendars_due", "rep_calendars", ["next_read_at"], schema="router")


def downgrade() -> None:
    op.drop_index("rep_calendars_due", table_name="rep_calendars", schema="router")
    op.drop_table("rep_calendars", schema="router")
    for table in ("callback_deliveries", "callback_endpoints"):
        op.drop_column(table, "channel", schema="router")
