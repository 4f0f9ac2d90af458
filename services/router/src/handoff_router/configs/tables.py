"""The configs feature's table: every version of the routing configuration put."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from handoff_router.metadata import metadata

routing_configs = Table(
    "routing_configs",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("body", JSONB, nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
