"""indexes the retention worker finds expired rows by

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 01:00:00

Retention (handoff_router/retention.py) deletes old processed event ids, finished callback
deliveries and decided assignments in batches; each batch finds its rows by these indexes
instead of scanning the table.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'router'


def upgrade() -> None:
    op.create_index('processed_events_by_time', 'processed_events', ['processed_at'], schema=SCHEMA)
    op.execute(
        'CREATE INDEX callback_deliveries_finished ON router.callback_deliveries (finished_at)'
        " WHERE status <> 'pending'"
    )
    op.execute(
        "CREATE INDEX assignments_decided ON router.assignments (decided_at) WHERE status <> 'pending'"
    )


def downgrade() -> None:
    op.drop_index('assignments_decided', table_name='assignments', schema=SCHEMA)
    op.drop_index('callback_deliveries_finished', table_name='callback_deliveries', schema=SCHEMA)
    op.drop_index('processed_events_by_time', table_name='processed_events', schema=SCHEMA)
