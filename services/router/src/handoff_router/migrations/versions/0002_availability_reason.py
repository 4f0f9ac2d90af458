"""rep_availability.reason: why a rep is unavailable when the router set it (sla_auto_paused)

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rep_availability", sa.Column("reason", sa.String(length=50), nullable=True), schema="router")


def downgrade() -> None:
    op.drop_column("rep_availability", "reason", schema="router")
