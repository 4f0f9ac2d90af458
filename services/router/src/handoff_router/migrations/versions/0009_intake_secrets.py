"""intake: each intake source's sealed secret

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_secrets",
        sa.Column("source_id", sa.String(100), primary_key=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        schema="router",
    )


def downgrade() -> None:
    op.drop_table("intake_secrets", schema="router")
