"""The sla-monitor service's tables, in its own schema ``sla_monitor``."""

from __future__ import annotations

from handoff_shared.db import outbox_table, processed_events_table
from sqlalchemy import MetaData

SCHEMA = "sla_monitor"
metadata = MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
