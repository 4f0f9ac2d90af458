"""indexes the retention worker finds expired rows by

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 01:00:00

Retention (handoff_sla_monitor/retention.py) deletes closed timers and their fired steps in
batches; each batch finds its rows by these indexes instead of scanning the table.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'sla_monitor'


def upgrade() -> None:
    op.execute("CREATE INDEX timers_closed ON sla_monitor.timers (closed_at) WHERE status <> 'open'")
    op.create_index('escalations_by_fired_at', 'escalations', ['fired_at'], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index('escalations_by_fired_at', table_name='escalations', schema=SCHEMA)
    op.drop_index('timers_closed', table_name='timers', schema=SCHEMA)
