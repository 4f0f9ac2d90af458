"""routing configs: the alert thresholds of each routing config version the router applied

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:00:00

The router publishes ``routing.config_applied`` on topic ``routing.config`` for every
version it makes active. The feedback service keeps one row per version (a repeat is a
no-op) and judges acceptance alerts by the newest one; before any is seen, by its
``HANDOFF_ALERT_*`` settings.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'feedback'


def upgrade() -> None:
    op.create_table(
        'routing_configs',
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.Text(), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('acceptance_below', sa.Float(), nullable=False),
        sa.Column('acceptance_above', sa.Float(), nullable=False),
        sa.Column('min_decisions', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('version', 'sha256'),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table('routing_configs', schema=SCHEMA)
