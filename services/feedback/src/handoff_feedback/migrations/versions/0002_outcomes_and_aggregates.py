"""outcomes and aggregates; forget the skeleton's record of event ids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00

The skeleton consumer recorded the id of every lifecycle event it read in
processed_events, without keeping anything else. Had the new logic trusted that record,
it would have skipped every event the skeleton saw. The new logic keeps its state per
lead and merges events idempotently, so it needs no such record: the table goes, and the
consumer reads under a new group (handoff-feedback-outcomes) from the earliest offset.
See docs/architecture.md, "Feedback: the skeleton's history".
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'feedback'


def upgrade() -> None:
    op.create_table(
        'leads',
        sa.Column('lead_id', sa.Text(), nullable=False),
        sa.Column('state', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('published', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('lead_id'),
        schema=SCHEMA,
    )
    op.create_table(
        'aggregates',
        sa.Column('dimension', sa.Text(), nullable=False),
        sa.Column('segment', sa.Text(), nullable=False),
        sa.Column('window', sa.Text(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('measure', sa.Text(), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'window', 'window_start', 'segment', 'measure'),
        schema=SCHEMA,
    )
    op.create_table(
        'accept_samples',
        sa.Column('dimension', sa.Text(), nullable=False),
        sa.Column('segment', sa.Text(), nullable=False),
        sa.Column('assignment_id', sa.Text(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'segment', 'assignment_id'),
        schema=SCHEMA,
    )
    op.create_index('accept_samples_by_time', 'accept_samples', ['dimension', 'accepted_at'], schema=SCHEMA)
    op.create_table(
        'changed_windows',
        sa.Column('dimension', sa.Text(), nullable=False),
        sa.Column('segment', sa.Text(), nullable=False),
        sa.Column('window', sa.Text(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'segment', 'window', 'window_start'),
        schema=SCHEMA,
    )
    op.create_table(
        'alerts',
        sa.Column('dimension', sa.Text(), nullable=False),
        sa.Column('segment', sa.Text(), nullable=False),
        sa.Column('below', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('above', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('judged_window', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acceptance_rate', sa.Float(), nullable=True),
        sa.Column('decisions', sa.BigInteger(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('dimension', 'segment'),
        schema=SCHEMA,
    )
    op.drop_table('processed_events', schema=SCHEMA)


def downgrade() -> None:
    op.create_table(
        'processed_events',
        sa.Column('event_id', sa.Text(), nullable=False),
        sa.Column('event_type', sa.String(length=100), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('event_id'),
        schema=SCHEMA,
    )
    op.drop_table('alerts', schema=SCHEMA)
    op.drop_table('changed_windows', schema=SCHEMA)
    op.drop_index('accept_samples_by_time', table_name='accept_samples', schema=SCHEMA)
    op.drop_table('accept_samples', schema=SCHEMA)
    op.drop_table('aggregates', schema=SCHEMA)
    op.drop_table('leads', schema=SCHEMA)
