"""The router's schema ``router``: the one ``MetaData`` every feature's tables join (one schema, one
Alembic history), and the plumbing tables every feature writes: the outbox and processed events."""

from __future__ import annotations

from handoff_shared.db import outbox_table, processed_events_table
from sqlalchemy import Index, MetaData

SCHEMA = "router"
metadata = MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
Index("processed_events_by_time", processed_events.c.processed_at)  # retention (retention.py)
