"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 23:51:21.462579
"""
from collections.abc import Sequence

from handoff_shared.migrations import create_outbox_and_processed_events, drop_outbox_and_processed_events

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_and_processed_events('feedback')


def downgrade() -> None:
    drop_outbox_and_processed_events('feedback')
