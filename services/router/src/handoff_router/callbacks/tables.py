"""The callbacks feature's tables: endpoints with their circuits, sealed secrets, deliveries, attempts."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Interval,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from handoff_router.metadata import metadata

# One row per rep or manager that receives callbacks (``rep:<id>``, ``manager:<id>``); its
# circuit lives here so every router replica sees the same.
callback_endpoints = Table(
    "callback_endpoints",
    metadata,
    Column("endpoint_id", String(220), primary_key=True),
    # callback (a signed webhook to ``url``) | slack | email: each channel of a rep is an
    # endpoint of its own (``slack:rep:<id>``), with its own circuit and deliveries.
    Column("channel", String(10), nullable=False, server_default="callback"),
    Column("owner_kind", String(10), nullable=False),  # rep | manager
    Column("owner_id", String(200), nullable=False),
    Column("url", Text, nullable=True),
    Column("status", String(10), nullable=False, server_default="closed"),
    Column("failure_streak", Integer, nullable=False, server_default="0"),
    Column("down_since", DateTime(timezone=True), nullable=True),
    Column("probe_at", DateTime(timezone=True), nullable=True),
    Column("open_for", Interval, nullable=True),
    Column("probe_started_at", DateTime(timezone=True), nullable=True),
    Column("hold_until", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("last_failure_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # This endpoint's retry window, when it differs from ``callback_retry_window`` (admin API).
    Column("retry_window", Interval, nullable=True),
)
Index("callback_endpoints_down", callback_endpoints.c.owner_kind, callback_endpoints.c.down_since)

# Secrets as Fernet tokens. The newest without ``expires_at`` is current; a rotated-out one
# keeps signing until its ``expires_at`` (the grace period).
callback_secrets = Table(
    "callback_secrets",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(220), nullable=False, index=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

# One row per (event, endpoint): written in the transaction of the assignment or escalation
# that causes it. ``delivery_id`` is the ``webhook-id``; ``body`` never changes.
callback_deliveries = Table(
    "callback_deliveries",
    metadata,
    Column("delivery_id", String(64), primary_key=True),
    Column("endpoint_id", String(220), nullable=False),
    Column("channel", String(10), nullable=False, server_default="callback"),
    Column("event_id", Text, nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("lead_id", String(200), nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failure_reason", String(40), nullable=True),
    # Set while a worker holds the delivery (a try under way): every replica counts these
    # against ``callback_per_endpoint``; a lapsed lease (a dead worker) no longer counts.
    Column("leased_until", DateTime(timezone=True), nullable=True),
    UniqueConstraint("event_id", "endpoint_id", name="callback_deliveries_once_per_endpoint"),
)
Index(
    "callback_deliveries_due",
    callback_deliveries.c.next_attempt_at,
    postgresql_where=callback_deliveries.c.status == "pending",
)
Index(
    "callback_deliveries_by_endpoint",
    callback_deliveries.c.endpoint_id,
    callback_deliveries.c.status,
    callback_deliveries.c.created_at,
)
Index(
    "callback_deliveries_leased",
    callback_deliveries.c.endpoint_id,
    callback_deliveries.c.leased_until,
    postgresql_where=(callback_deliveries.c.status == "pending")
    & callback_deliveries.c.leased_until.isnot(None),
)
Index("callback_deliveries_by_status", callback_deliveries.c.status, callback_deliveries.c.created_at)
# Retention finds finished deliveries by when they finished (handoff_router/retention.py).
Index(
    "callback_deliveries_finished",
    callback_deliveries.c.finished_at,
    postgresql_where=callback_deliveries.c.status != "pending",
)

callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        String(64),
        ForeignKey(callback_deliveries.c.delivery_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error_class", String(60), nullable=True),
    Column("response_excerpt", Text, nullable=True),
    Column("outcome", String(20), nullable=False),  # delivered | retry | gone | failed
    Column("probe", Boolean, nullable=False, server_default="false"),
)
Index("callback_attempts_by_delivery", callback_attempts.c.delivery_id, callback_attempts.c.number)
