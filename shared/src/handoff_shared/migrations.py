"""Alembic plumbing: every service keeps its own schema and its own migration history."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, url: str) -> Config:
    """An Alembic configuration for one service's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Apply a service's migrations up to ``revision``."""
    command.upgrade(alembic_config(migrations_dir, url), revision)


def run_env(metadata: MetaData, schema: str) -> None:
    """The body of a service's ``env.py``: run migrations online against its schema."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set")
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, version_table_schema=schema, include_schemas=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata, schema))


async def _run_online(url: str, metadata: MetaData, schema: str) -> None:
    engine = create_async_engine(url, hide_parameters=True)  # data migrations move lead data
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.commit()
            await connection.run_sync(_migrate, metadata, schema)
    finally:
        await engine.dispose()


def _migrate(connection: Connection, metadata: MetaData, schema: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, _: type_ != "schema" or name == schema,
    )
    with context.begin_transaction():
        context.run_migrations()


# The tables every service keeps (``handoff_shared.db``), as their first migration created them.
# Frozen here like any migration: a later change to those tables is a new revision of each
# service, never an edit of these functions.


def create_outbox_and_processed_events(schema: str) -> None:
    """Create ``outbox`` and ``processed_events`` in ``schema`` (each service's revision 0001)."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        schema=schema,
    )
    op.create_index(
        "outbox_sent_at",
        "outbox",
        ["sent_at"],
        unique=False,
        schema=schema,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    op.create_index(
        "outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        schema=schema,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("event_id"),
        schema=schema,
    )


def drop_outbox_and_processed_events(schema: str) -> None:
    """Undo ``create_outbox_and_processed_events``."""
    op.drop_table("processed_events", schema=schema)
    op.drop_index("outbox_unsent", table_name="outbox", schema=schema)
    op.drop_index("outbox_sent_at", table_name="outbox", schema=schema)
    op.drop_table("outbox", schema=schema)
