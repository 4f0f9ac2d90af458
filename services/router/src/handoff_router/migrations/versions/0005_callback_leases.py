"""callbacks: leases visible to every replica (per-endpoint bound across routers), per-endpoint retry window

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("callback_deliveries", sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True), schema="router")
    op.create_index(
        "callback_deliveries_leased", "callback_deliveries", ["endpoint_id", "leased_until"], unique=False,
        schema="router", postgresql_where=sa.text("status = 'pending' AND leased_until IS NOT NULL"),
    )
    op.add_column("callback_endpoints", sa.Column("retry_window", sa.Interval(), nullable=True), schema="router")


def downgrade() -> None:
    op.drop_column("callback_endpoints", "retry_window", schema="router")
    op.drop_index(
        "callback_deliveries_leased", table_name="callback_deliveries", schema="router",
        postgresql_where=sa.text("status = 'pending' AND leased_until IS NOT NULL"),
    )
    op.drop_column("callback_deliveries", "leased_until", schema="router")
