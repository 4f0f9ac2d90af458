"""outbox: rows the broker refuses for good are set aside (kept, with the reason) rather than retried

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=True), schema="feedback")
    op.add_column("outbox", sa.Column("set_aside_reason", sa.Text(), nullable=True), schema="feedback")


def downgrade() -> None:
    op.drop_column("outbox", "set_aside_reason", schema="feedback")
    op.drop_column("outbox", "set_aside_at", schema="feedback")
