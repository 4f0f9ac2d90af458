"""Versions of the routing configuration: every PUT adds one; the newest is active."""

from __future__ import annotations

import hashlib

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.configs.tables import routing_configs
from handoff_router.context import ConfigVersion
from handoff_router.routing.config import RoutingConfig, validate_config


class ConfigCache:
    """Keeps the parsed active configuration; re-reads only when a newer version exists (the
    context's ``ActiveConfig``)."""

    def __init__(self) -> None:
        self._current: ConfigVersion | None = None

    async def active(self, session: AsyncSession) -> ConfigVersion | None:
        """The newest configuration, or None before the first one is put."""
        version = await session.scalar(
            select(routing_configs.c.version).order_by(routing_configs.c.version.desc()).limit(1)
        )
        if version is None:
            return None
        if self._current is None or self._current.version != version:
            row = (
                await session.execute(select(routing_configs).where(routing_configs.c.version == version))
            ).one()
            self._current = ConfigVersion(
                version=row.version,
                config=validate_config(row.body),
                source=row.source,
                sha256=row.sha256,
                created_at=row.created_at,
            )
        return self._current


async def save(session: AsyncSession, config: RoutingConfig, source: str) -> int:
    """Store a validated configuration as the new active version; answer its number."""
    version = await session.scalar(
        insert(routing_configs)
        .values(
            body=config.model_dump(mode="json", exclude_none=True),
            source=source,
            sha256=hashlib.sha256(source.encode()).hexdigest(),
        )
        .returning(routing_configs.c.version)
    )
    assert version is not None
    return int(version)


async def sla_setting(session: AsyncSession, version: int, key: str) -> int | None:
    """The ``sla`` setting ``key`` as config ``version`` stored it (None: not set there)."""
    stored = await session.scalar(
        select(routing_configs.c.body["sla"][key].as_integer()).where(routing_configs.c.version == version)
    )
    return None if stored is None else int(stored)
