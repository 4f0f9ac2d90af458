"""Routing configuration use cases: put a new version, preview a lead, simulate a file of leads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handoff_shared.db import transaction

from handoff_router.assignments import state as state_store
from handoff_router.assignments.errors import NoActiveConfig
from handoff_router.assignments.service import Assignments
from handoff_router.configs import repository
from handoff_router.configs.repository import ConfigVersion
from handoff_router.routing.config import RoutingConfig, parse_config
from handoff_router.routing.engine import Decision, route
from handoff_router.routing.simulation import compare, simulate


@dataclass
class RoutingConfigs:
    """Versions of the routing configuration and what-if questions asked of them."""

    assignments: Assignments

    async def active(self) -> ConfigVersion | None:
        async with self.assignments.sessions() as session:
            return await self.assignments.configs.active(session)

    async def put(self, source: str) -> ConfigVersion:
        """Validate whole and store as the new active version (raises ConfigInvalid)."""
        config = parse_config(source)
        async with transaction(self.assignments.sessions) as session:
            await repository.save(session, config, source)
            version = await self.assignments.configs.active(session)
        assert version is not None
        await self.assignments.drain_queue()
        return version

    async def preview(self, lead: dict[str, Any]) -> tuple[Decision, int]:
        """Which rule, team and rep would take ``lead`` now, and why; nothing is written."""
        async with self.assignments.sessions() as session:
            active = await self.assignments.configs.active(session)
            if active is None:
                raise NoActiveConfig("PUT /v1/routing-config first")
            state = await state_store.read(session)
        decision, _ = route(lead, active.config, state, self.assignments.clock())
        return decision, active.version

    async def simulate(
        self, leads: Sequence[dict[str, Any]], candidate: RoutingConfig | None
    ) -> dict[str, Any]:
        """How the active config (and a candidate, if given) would spread ``leads``, from today's load."""
        async with self.assignments.sessions() as session:
            active = await self.assignments.configs.active(session)
            state = await state_store.read(session)
        now = self.assignments.clock()
        if active is None and candidate is None:
            raise NoActiveConfig("no active config to simulate: PUT one, or send a candidate config")
        result: dict[str, Any] = {"leads": len(leads)}
        current = simulate(leads, active.config, state, now) if active is not None else None
        if current is not None:
            result["active"] = {"version": active.version if active else None, **current.to_dict()}
        if candidate is not None:
            proposed = simulate(leads, candidate, state, now)
            result["candidate"] = proposed.to_dict()
            if current is not None:
                result["difference"] = compare(current, proposed).to_dict()
        return result
