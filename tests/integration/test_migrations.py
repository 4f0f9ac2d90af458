"""Each service's migrations build exactly the tables its code declares."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from handoff_feedback import tables as feedback_tables
from handoff_router import tables as router_tables
from handoff_sla_monitor import tables as sla_tables
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


def differences(connection: Connection, metadata: MetaData, schema: str) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, kind, _: (
                (kind != "schema" or name == schema) and name != "alembic_version"
            ),
            "compare_server_default": True,
        },
    )
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize(
    ("metadata", "schema"),
    [
        (router_tables.metadata, router_tables.SCHEMA),
        (sla_tables.metadata, sla_tables.SCHEMA),
        (feedback_tables.metadata, feedback_tables.SCHEMA),
    ],
    ids=["router", "sla-monitor", "feedback"],
)
async def test_the_migrated_schema_matches_the_tables_of_the_code(
    engine: AsyncEngine, metadata: MetaData, schema: str
) -> None:
    async with engine.connect() as connection:
        found = await connection.run_sync(differences, metadata, schema)
    assert found == []
