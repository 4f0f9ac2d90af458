"""outbox: rows the broker refuses for good are set aside (kept, with the reason) rather than retried

Revision ID: 0004
Revises: 0003
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=True), schema="sla_monitor")
    op.add_column("outbox", sa.Column("set_aside_reason", sa.Text(), nullable=True), schema="sla_monitor")


def downgrade() -> None:
    op.drop_column("outbox", "set_aside_reason", schema="sla_monitor")
    op.drop_column("outbox", "set_aside_at", schema="sla_monitor")
