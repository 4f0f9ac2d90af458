"""indexes the retention worker finds expired rows by

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 01:00:00

Retention (handoff_feedback/retention.py) deletes lead states no longer changing and the
aggregates of windows older than the report retention, in batches; each batch finds its
rows by these indexes instead of scanning the table.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'feedback'


def upgrade() -> None:
    op.create_index('leads_by_updated_at', 'leads', ['updated_at'], schema=SCHEMA)
    op.create_index('aggregates_by_window_start', 'aggregates', ['window_start'], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index('aggregates_by_window_start', table_name='aggregates', schema=SCHEMA)
    op.drop_index('leads_by_updated_at', table_name='leads', schema=SCHEMA)
