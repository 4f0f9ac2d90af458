"""The feedback service's tables, in its own schema ``feedback``."""

from __future__ import annotations

from handoff_shared.db import outbox_table
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "feedback"
metadata = MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)

# One row per lead: every fact known of it (the core's LeadState as JSON), and the keys of the
# outcomes already published for it.
leads = Table(
    "leads",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("state", JSONB, nullable=False),
    Column("published", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("leads_by_updated_at", leads.c.updated_at)  # retention (handoff_feedback/retention.py)

# The sum of every lead's contributions: one count per segment, window and measure.
aggregates = Table(
    "aggregates",
    metadata,
    Column("dimension", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("window", Text, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("measure", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("dimension", "window", "window_start", "segment", "measure"),
)
Index("aggregates_by_window_start", aggregates.c.window_start)  # retention

# Seconds to accept of each accepted assignment, with the lead's segment values (``(none)``
# for a missing one): one row serves every segment, for exact percentiles of any range.
accept_samples = Table(
    "accept_samples",
    metadata,
    Column("assignment_id", Text, primary_key=True),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("source", Text, nullable=False),
    Column("campaign", Text, nullable=False),
    Column("team", Text, nullable=False),
    Column("rep", Text, nullable=False),
    Column("rule", Text, nullable=False),
)
Index("accept_samples_by_time", accept_samples.c.accepted_at)

# Windows whose counts changed since their last snapshot was published: marks, maybe several
# per window, with no unique key so that writers never wait on a snapshot's claim.
changed_windows = Table(
    "changed_windows",
    metadata,
    Column("dimension", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("window", Text, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
)
Index(
    "changed_windows_by_start",
    changed_windows.c.window_start,
    changed_windows.c.dimension,
    changed_windows.c.segment,
    changed_windows.c.window,
)

# Each segment's acceptance alerts: firing or not, since when, and the latest window judged.
alerts = Table(
    "alerts",
    metadata,
    Column("dimension", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("below", Boolean, nullable=False, server_default=text("false")),
    Column("above", Boolean, nullable=False, server_default=text("false")),
    Column("judged_window", DateTime(timezone=True), nullable=True),
    Column("acceptance_rate", Float, nullable=True),
    Column("decisions", BigInteger, nullable=True),
    Column("changed_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("dimension", "segment"),
)

# The alert thresholds of each routing config version the router applied (routing.config_applied);
# the newest (by applied_at) is in force.
routing_configs = Table(
    "routing_configs",
    metadata,
    Column("version", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("acceptance_below", Float, nullable=False),
    Column("acceptance_above", Float, nullable=False),
    Column("min_decisions", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("version", "sha256"),
)

# The advisory lock between a rebuild (held exclusively) and the live batches and snapshots (shared).
REBUILD_LOCK = 0x68616E646F6666  # "handoff"
