"""The reps feature's table: rep tokens, as digests."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, func

from handoff_router.metadata import metadata

rep_tokens = Table(
    "rep_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("rep_id", String(200), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
