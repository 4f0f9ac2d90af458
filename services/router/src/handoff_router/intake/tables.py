"""The intake feature's table: each source's secret, sealed (never returned once set)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, LargeBinary, String, Table

from handoff_router.metadata import metadata

intake_secrets = Table(
    "intake_secrets",
    metadata,
    Column("source_id", String(100), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),  # a Fernet token (sealed_secrets.SecretBox)
    Column("set_at", DateTime(timezone=True), nullable=False),
)
