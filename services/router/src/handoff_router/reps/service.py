"""Rep use cases: tokens, availability, and the load each rep carries (the routing state keeps
load and availability: this feature asks for it and says when availability changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff_router.context import ConfigVersion, NoActiveConfig, RouterContext
from handoff_router.facts import AvailabilitySet, CurrentRoutingState
from handoff_router.reps import repository
from handoff_router.reps.errors import NotThatRep, UnknownRep
from handoff_router.reps.tokens import new_token, token_digest
from handoff_router.routing.engine import is_available


@dataclass
class Reps:
    """Tokens and availability of the reps of the active configuration."""

    context: RouterContext

    async def authenticate(self, token: str) -> str | None:
        """The rep a token belongs to, or None for an unknown or revoked one."""
        async with self.context.sessions() as session:
            return await repository.rep_of_token(session, token_digest(token))

    async def issue_token(self, rep_id: str) -> str:
        """A new token for ``rep_id``; only its digest is kept, so it is shown once."""
        await self._known(rep_id)
        token = new_token()
        async with self.context.transaction() as session:
            await repository.add_token(session, token_digest(token), rep_id)
        return token

    @staticmethod
    def check_may_act_for(rep_id: str, acting_rep: str | None, is_admin: bool) -> None:
        """Admins act for any rep; a rep only for themselves (NotThatRep)."""
        if not is_admin and acting_rep != rep_id:
            raise NotThatRep("a rep may set only their own availability")

    async def set_availability(self, rep_id: str, available: bool, until: datetime | None) -> None:
        """Mark a rep (un)available (``AvailabilitySet``: routing reads it; a rep back at work may
        take leads from the queue)."""
        await self._known(rep_id)
        async with self.context.transaction() as session:
            fact = AvailabilitySet(rep_id, available, until, at=self.context.clock())
            await self.context.bus.publish(session, fact)

    async def load(self) -> list[dict[str, Any]]:
        """Each rep's open assignments, today's count, caps and availability."""
        async with self.context.sessions() as session:
            active = await self.context.configs.active(session)
            state = await self.context.bus.ask(session, CurrentRoutingState())
        if active is None:
            return []
        now = self.context.clock()
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
                    "unavailable_reason": availability.reason
                    if availability and not is_available(availability, now)
                    else None,
                    "open": load.open if load else 0,
                    "max_open": rep.max_open,
                    "assigned_today": load.today if load else 0,
                    "max_per_day": rep.max_per_day,
                    "weight": rep.weight,
                }
            )
        return rows

    async def _known(self, rep_id: str) -> ConfigVersion:
        async with self.context.sessions() as session:
            active = await self.context.configs.active(session)
        if active is None:
            raise NoActiveConfig("PUT /v1/routing-config first")
        if rep_id not in {rep.id for rep in active.config.reps}:
            raise UnknownRep(f"no rep {rep_id} in routing config version {active.version}")
        return active
