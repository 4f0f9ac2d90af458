"""Rep use cases: tokens, availability, and the load each rep carries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff_shared.db import transaction
from sqlalchemy import insert

from handoff_router.assignments import state as state_store
from handoff_router.assignments.errors import NoActiveConfig, UnknownRep
from handoff_router.assignments.service import Assignments
from handoff_router.deps import token_digest
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import is_available
from handoff_router.tables import rep_tokens

TOKEN_PREFIX = "hrep_"


@dataclass
class Reps:
    """Tokens and availability of the reps of the active configuration."""

    assignments: Assignments

    async def issue_token(self, rep_id: str) -> str:
        """A new token for ``rep_id``; only its digest is kept, so it is shown once."""
        await self._known(rep_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with transaction(self.assignments.sessions) as session:
            await session.execute(insert(rep_tokens).values(token_sha256=token_digest(token), rep_id=rep_id))
        return token

    async def set_availability(self, rep_id: str, available: bool, until: datetime | None) -> None:
        """Mark a rep (un)available; a rep back at work may drain the queue."""
        await self._known(rep_id)
        async with transaction(self.assignments.sessions) as session:
            await state_store.set_availability(session, rep_id, available, until)
        if available:
            await self.assignments.drain_queue()

    async def load(self) -> list[dict[str, Any]]:
        """Each rep's open assignments, today's count, caps and availability."""
        async with self.assignments.sessions() as session:
            active = await self.assignments.configs.active(session)
            state = await state_store.read(session)
        if active is None:
            return []
        now = self.assignments.clock()
        rows = []
        for rep in active.config.reps:
            load = state.load.get(rep.id)
            availability = state.availability.get(rep.id)
            rows.append(
                {
                    "rep_id": rep.id,
                    "active": rep.active,
                    "available": is_available(availability, now),
                    "unavailable_until": availability.until
                    if availability and not availability.available
                    else None,
                    "open": load.open if load else 0,
                    "max_open": rep.max_open,
                    "assigned_today": load.today if load else 0,
                    "max_per_day": rep.max_per_day,
                    "weight": rep.weight,
                }
            )
        return rows

    async def _known(self, rep_id: str) -> RoutingConfig:
        async with self.assignments.sessions() as session:
            active = await self.assignments.configs.active(session)
        if active is None:
            raise NoActiveConfig("PUT /v1/routing-config first")
        if rep_id not in {rep.id for rep in active.config.reps}:
            raise UnknownRep(f"no rep {rep_id} in routing config version {active.version}")
        return active.config
