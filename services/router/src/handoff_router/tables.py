"""Every table of the router in one ``MetaData``, for Alembic and the schema test: the plumbing
tables of ``metadata.py`` and each feature's own (``<feature>/tables.py``). No feature imports
this module; each imports only its own tables and ``metadata``."""

from __future__ import annotations

from handoff_router.accounts import tables as accounts
from handoff_router.assignments import tables as assignments
from handoff_router.calendars import tables as calendars
from handoff_router.callbacks import tables as callbacks
from handoff_router.configs import tables as configs
from handoff_router.intake import tables as intake
from handoff_router.metadata import SCHEMA, metadata, outbox, processed_events
from handoff_router.queue import tables as queue
from handoff_router.reps import tables as reps

__all__ = [
    "SCHEMA",
    "accounts",
    "assignments",
    "calendars",
    "callbacks",
    "configs",
    "intake",
    "metadata",
    "outbox",
    "processed_events",
    "queue",
    "reps",
]
