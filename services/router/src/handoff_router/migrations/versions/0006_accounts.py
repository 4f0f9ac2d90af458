"""accounts: the account book, its version, and the people of each assignment

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("domains", postgresql.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("status", sa.String(100), nullable=True),
        sa.Column("tier", sa.String(100), nullable=True),
        sa.Column("attributes", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="router",
    )
    op.create_index("accounts_by_owner", "accounts", ["owner"], schema="router")
    op.create_table(
        "account_book",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="router",
    )
    op.create_table(
        "lead_people",
        sa.Column("assignment_id", sa.String(64), primary_key=True),
        sa.Column("lead_id", sa.String(200), nullable=False),
        sa.Column("person_keys", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=True),
        sa.Column("rep_id", sa.String(200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        schema="router",
    )
    op.create_index("lead_people_by_person", "lead_people", ["person_keys"], schema="router", postgresql_using="gin")
    op.create_index("lead_people_by_account", "lead_people", ["account_id", "assigned_at"], schema="router")


def downgrade() -> None:
    op.drop_table("lead_people", schema="router")
    op.drop_table("account_book", schema="router")
    op.drop_table("accounts", schema="router")
