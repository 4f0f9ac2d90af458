"""The feedback service's tables, in its own schema ``feedback``."""

from __future__ import annotations

from handoff_shared.db import outbox_table, processed_events_table
from sqlalchemy import MetaData

SCHEMA = "feedback"
metadata = MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
