"""one seconds-to-accept sample per acceptance, with the lead's segment values

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:10:00

A sample row per (dimension, segment, assignment) wrote eight rows per acceptance; one row
now carries the lead's source, campaign, team, rep and rule, and serves every segment. The
old rows are folded into the new table (an assignment's single-attribute segments give its
values), so no rebuild is needed.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'feedback'
ATTRIBUTES = ('source', 'campaign', 'team', 'rep', 'rule')


def upgrade() -> None:
    op.create_table(
        'accept_samples_v2',
        sa.Column('assignment_id', sa.Text(), primary_key=True),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in ATTRIBUTES),
        schema=SCHEMA,
    )
    values = ', '.join(
        f"coalesce(max(substr(segment, {len(name) + 2})) FILTER (WHERE dimension = '{name}'), '(none)')"
        for name in ATTRIBUTES
    )
    op.execute(
        f'INSERT INTO {SCHEMA}.accept_samples_v2 (assignment_id, accepted_at, seconds, {", ".join(ATTRIBUTES)})'
        f' SELECT assignment_id, min(accepted_at), min(seconds), {values}'
        f' FROM {SCHEMA}.accept_samples GROUP BY assignment_id'
    )
    op.drop_index('accept_samples_by_time', table_name='accept_samples', schema=SCHEMA)
    op.drop_table('accept_samples', schema=SCHEMA)
    op.rename_table('accept_samples_v2', 'accept_samples', schema=SCHEMA)
    op.execute(f'ALTER INDEX {SCHEMA}.accept_samples_v2_pkey RENAME TO accept_samples_pkey')
    op.create_index('accept_samples_by_time', 'accept_samples', ['accepted_at'], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index('accept_samples_by_time', table_name='accept_samples', schema=SCHEMA)
    op.rename_table('accept_samples', 'accept_samples_v2', schema=SCHEMA)
    op.execute(f'ALTER INDEX {SCHEMA}.accept_samples_pkey RENAME TO accept_samples_v2_pkey')
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
    keys = {
        'all': "'all'",
        'source': "'source=' || source",
        'campaign': "'campaign=' || campaign",
        'source_campaign': "'source=' || source || ',campaign=' || campaign",
        'team': "'team=' || team",
        'rep': "'rep=' || rep",
        'team_rep': "'team=' || team || ',rep=' || rep",
        'rule': "'rule=' || rule",
    }
    for dimension, key in keys.items():
        op.execute(
            f'INSERT INTO {SCHEMA}.accept_samples (dimension, segment, assignment_id, accepted_at, seconds)'
            f" SELECT '{dimension}', {key}, assignment_id, accepted_at, seconds FROM {SCHEMA}.accept_samples_v2"
        )
    op.drop_table('accept_samples_v2', schema=SCHEMA)
    op.create_index('accept_samples_by_time', 'accept_samples', ['dimension', 'accepted_at'], schema=SCHEMA)
