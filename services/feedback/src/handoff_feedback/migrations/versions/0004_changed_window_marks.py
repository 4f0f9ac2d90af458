"""changed windows become marks without a unique key

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:30:00

With (dimension, segment, window, window_start) as the primary key, a lifecycle batch
marking a window that the snapshot loop had just claimed (deleted, not yet committed)
waited for the whole snapshot transaction. Marks now have no unique key: a window may be
marked more than once, and the snapshot loop takes marks and publishes each window once.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'feedback'


def upgrade() -> None:
    op.drop_constraint('changed_windows_pkey', 'changed_windows', schema=SCHEMA, type_='primary')
    op.create_index(
        'changed_windows_by_start',
        'changed_windows',
        ['window_start', 'dimension', 'segment', 'window'],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index('changed_windows_by_start', table_name='changed_windows', schema=SCHEMA)
    op.execute(
        'DELETE FROM feedback.changed_windows a USING feedback.changed_windows b'
        ' WHERE a.ctid < b.ctid AND (a.dimension, a.segment, a."window", a.window_start)'
        ' = (b.dimension, b.segment, b."window", b.window_start)'
    )
    op.create_primary_key(
        'changed_windows_pkey',
        'changed_windows',
        ['dimension', 'segment', 'window', 'window_start'],
        schema=SCHEMA,
    )
