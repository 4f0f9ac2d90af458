"""assignments: the qualification of an accepted lead (SAL -> SQL, CONTRACT §9)

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
    op.add_column("assignments", sa.Column("qualification_outcome", sa.String(length=20), nullable=True), schema="router")
    op.add_column("assignments", sa.Column("qualification_reason", sa.String(length=100), nullable=True), schema="router")
    op.add_column("assignments", sa.Column("qualification_note", sa.Text(), nullable=True), schema="router")
    op.add_column("assignments", sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True), schema="router")


def downgrade() -> None:
    op.drop_column("assignments", "qualified_at", schema="router")
    op.drop_column("assignments", "qualification_note", schema="router")
    op.drop_column("assignments", "qualification_reason", schema="router")
    op.drop_column("assignments", "qualification_outcome", schema="router")
