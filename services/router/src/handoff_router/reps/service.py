"""Rep use cases: tokens, availability, and the load each rep carries (the routing state keeps
load and availability: this feature asks for it and says when availability changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff_router.context import ConfigVersion, NoActiveConfig, RouterContext
from handoff_router.facts import (
    AvailabilitySet,
    CurrentRoutingState,
    OpenByAccount,
    RepLoadFields,
    RepOffboarded,
)
from handoff_router.reps import repository
from handoff_router.reps.errors import InvalidSuccessor, NotThatRep, UnknownRep
from handoff_router.reps.tokens import new_token, token_digest
from handoff_router.routing.engine import is_available


@dataclass
class Reps:
    """Tokens and availability of the reps of the active configuration."""

    context: RouterContext

    async def authenticate(self, token: str) -> str | None:
        """The rep a token belongs to, or None: an unknown, revoked or expired token
        (``HANDOFF_REP_TOKEN_TTL``), or one of a rep who is inactive or no longer in the
        active config. With no config active at all there is nothing to judge a rep by, so the
        token stands: reps can still decide the assignments they hold (ownership is checked
        there), e.g. while a broken config is being replaced."""
        ttl = self.context.settings.rep_token_ttl
        issued_after = self.context.clock() - ttl if ttl is not None else None
        async with self.context.sessions() as session:
            rep_id = await repository.rep_of_token(session, token_digest(token), issued_after)
            if rep_id is None:
                return None
            active = await self.context.configs.active(session)
        if active is None:
            return rep_id
        rep = next((rep for rep in active.config.reps if rep.id == rep_id), None)
        return rep_id if rep is not None and rep.active else None

    async def revoke_tokens(self, rep_id: str) -> int:
        """Every token of ``rep_id`` stops working at once (also of a rep no longer in the
        config); answers how many there were. Offboarding revokes them the same way."""
        async with self.context.transaction() as session:
            return await repository.revoke_tokens(session, rep_id)

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
            by_account = await self.context.bus.ask(session, OpenByAccount())
        if active is None:
            return []
        now = self.context.clock()
        extras: dict[str, dict[str, Any]] = {}
        async with self.context.sessions() as session:
            # other features' word on each rep (calendars)
            for extra in await self.context.bus.gather(session, RepLoadFields(now)):
                for rep_id, fields in extra.items():
                    extras.setdefault(rep_id, {}).update(fields)
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
                    # CONTRACT §11: leads given by account are counted apart from the rotation's
                    "open_by_account": by_account.get(rep.id, 0),
                    "max_open": rep.max_open,
                    "assigned_today": load.today if load else 0,
                    "max_per_day": rep.max_per_day,
                    "weight": rep.weight,
                    **extras.get(rep.id, {}),
                }
            )
        return rows

    async def me(self, rep_id: str) -> dict[str, Any]:
        """The calling rep: name, clock, availability, and the reason codes of the active config."""
        active = await self._known(rep_id)
        rep = active.config.rep(rep_id)
        async with self.context.sessions() as session:
            state = await self.context.bus.ask(session, CurrentRoutingState())
        availability = state.availability.get(rep_id)
        now = self.context.clock()
        away = not is_available(availability, now)
        return {
            "rep_id": rep.id,
            "name": rep.name,
            "email": rep.email,
            "timezone": rep.timezone,
            "available": not away,
            "unavailable_until": availability.until if availability and away else None,
            "unavailable_reason": availability.reason if availability and away else None,
            "rejection_reasons": list(active.config.rejection_reasons),
            "disqualification_reasons": list(active.config.disqualification_reasons),
        }

    async def offboard(self, rep_id: str, successor: str) -> dict[str, Any]:
        """In one unit of work: the rep's tokens stop working, and the "rep offboarded" fact goes to
        every feature that holds something of theirs (the config makes them inactive and gives
        their named accounts to ``successor``; their pending leads are routed again without them;
        the account book moves their accounts). Answers what moved."""
        active = await self._known(rep_id)
        heir = next((rep for rep in active.config.reps if rep.id == successor), None)
        if heir is None or not heir.active or successor == rep_id:
            raise InvalidSuccessor(
                f"{successor!r} is not another active rep of config version {active.version}"
            )
        now = self.context.clock()
        result: dict[str, Any] = {"rep_id": rep_id, "successor": successor}
        async with self.context.transaction() as session:
            fact = RepOffboarded(rep_id, successor, now, moved={})
            await self.context.bus.publish(session, fact)  # the routing state is locked first
            result.update(fact.moved)
            result["tokens_revoked"] = await repository.revoke_tokens(session, rep_id)
        return result

    async def _known(self, rep_id: str) -> ConfigVersion:
        async with self.context.sessions() as session:
            active = await self.context.configs.active(session)
        if active is None:
            raise NoActiveConfig("PUT /v1/routing-config first")
        if rep_id not in {rep.id for rep in active.config.reps}:
            raise UnknownRep(f"no rep {rep_id} in routing config version {active.version}")
        return active
