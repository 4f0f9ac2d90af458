"""Routing configuration use cases: put a new version, read the active one, preview a lead,
simulate a file of leads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from handoff_shared import cloudevents, events
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.configs import repository
from handoff_router.configs.errors import InvalidConfig, InvalidLead, InvalidLeadFile, NoConfigYet, NotText
from handoff_router.configs.lead_files import LeadFileInvalid, read_leads
from handoff_router.context import ConfigVersion, NoActiveConfig, RouterContext
from handoff_router.facts import (
    ConfigApplied,
    ConfigProblems,
    CurrentAccountIndex,
    CurrentRoutingState,
    RecallPeople,
    RoutingInputs,
    UnreachableReps,
)
from handoff_router.metadata import outbox
from handoff_router.routing.config import ConfigInvalid, RoutingConfig, parse_config, validate_config
from handoff_router.routing.engine import Decision, route
from handoff_router.routing.simulation import what_if

CONFIG_SUBJECT = "routing-config"  # subject and key of every routing.config_applied


@dataclass(frozen=True)
class Preview:
    decision: Decision
    version: int


@dataclass
class RoutingConfigs:
    """Versions of the routing configuration and what-if questions asked of them."""

    context: RouterContext

    async def active(self) -> ConfigVersion:
        """The active version (NoConfigYet before the first put)."""
        async with self.context.sessions() as session:
            version = await self.context.configs.active(session)
        if version is None:
            raise NoConfigYet("no routing configuration has been put yet")
        return version

    async def put(self, body: bytes) -> ConfigVersion:
        """Validate whole and store as the new active version; queued leads get a new chance."""
        source = _text(body, "the body")
        config = await asyncio.to_thread(_config, source)  # a large config is CPU: off the event loop
        async with self.context.transaction() as session:
            problems = [
                problem
                for found in await self.context.bus.gather(session, ConfigProblems(config))
                for problem in found
            ]
            if problems:
                raise InvalidConfig(ConfigInvalid(problems))
            version = await self._apply(session, config, source)
        return version

    async def _apply(self, session: AsyncSession, config: RoutingConfig, source: str) -> ConfigVersion:
        """Store ``config`` as the new active version in ``session``'s unit of work; ``ConfigApplied``
        (callbacks learn the new URLs, calendars their feeds, queued leads get a new chance)."""
        await repository.save(session, config, source)
        version = await self.context.configs.active(session)
        assert version is not None
        await add_to_outbox(session, outbox, [self._applied(version)])
        await self.context.bus.publish(session, ConfigApplied(version))
        return version

    async def offboard(
        self, session: AsyncSession, rep_id: str, successor: str, now: datetime
    ) -> dict[str, Any]:
        """The "rep offboarded" fact, for the config: a new version where the rep is inactive and
        their named accounts belong to the successor. Answers the version and the domains moved."""
        active = await self.context.configs.active(session)
        if active is None:
            raise NoActiveConfig("PUT /v1/routing-config first")
        config = active.config
        moved = [account.domain for account in config.accounts if account.owner == rep_id]
        changed = config.model_copy(
            update={
                "reps": [
                    rep.model_copy(update={"active": False}) if rep.id == rep_id else rep
                    for rep in config.reps
                ],
                "accounts": [
                    account.model_copy(update={"owner": successor}) if account.owner == rep_id else account
                    for account in config.accounts
                ],
            }
        )
        body = changed.model_dump(mode="json", exclude_none=True)
        source = (
            f"# offboarded {rep_id} (successor {successor}) at {now.isoformat()}\n"
            + orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
        )
        version = await self._apply(session, validate_config(body), source)
        return {"config_version": version.version, "named_accounts": moved}

    def _applied(self, version: ConfigVersion) -> OutboxMessage:
        """``routing.config_applied`` (topic ``routing.config``): the feedback service takes
        the acceptance alert thresholds from it."""
        alerts = version.config.alert_policy
        data = events.RoutingConfigApplied(
            version=version.version,
            sha256=version.sha256,
            applied_at=version.created_at,
            alerts=events.AlertThresholds(
                acceptance_below=alerts.acceptance_below,
                acceptance_above=alerts.acceptance_above,
                min_decisions=alerts.min_decisions,
            ),
        )
        event = cloudevents.new_event(
            events.ROUTING_CONFIG_APPLIED,
            self.context.settings.event_source,
            CONFIG_SUBJECT,
            data,
            time=version.created_at,
        )
        return OutboxMessage.of_event(self.context.settings.topic_routing_config, event, key=CONFIG_SUBJECT)

    async def preview(self, lead: dict[str, Any]) -> Preview:
        """Which rule, team and rep would take ``lead`` now, and why; nothing is written."""
        try:
            data = events.MqlCreated.model_validate(lead).model_dump(mode="json", exclude_none=True)
        except ValidationError as error:
            errors = [
                {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()
            ]
            raise InvalidLead(
                "; ".join(f"{e['path']}: {e['message']}" for e in errors), errors=errors
            ) from None
        async with self.context.sessions() as session:
            active = await self.context.configs.active(session)
            if active is None:
                raise NoActiveConfig("PUT /v1/routing-config first")
            now = self.context.clock()
            state = await self.context.bus.ask(session, CurrentRoutingState())
            down = await self.context.bus.ask(session, UnreachableReps(now, active.config.unreachable_after))
            for inputs in await self.context.bus.gather(session, RoutingInputs(now)):
                state = replace(state, **inputs)
            # its account, and what is known of the person
            memory = await self.context.bus.ask(session, RecallPeople([data], active.config, now))
            context = memory.context_for(data, fresh=True)
        decision, _ = route(data, active.config, replace(state, unreachable=down), now, context=context)
        return Preview(decision, active.version)

    async def simulate(self, leads: bytes, candidate: bytes | None) -> dict[str, Any]:
        """How the active config (and a candidate, if given) would spread ``leads``, from today's load."""
        try:
            lead_list = await asyncio.to_thread(read_leads, _text(leads, "the lead file"))
        except LeadFileInvalid as error:
            raise InvalidLeadFile(str(error), problems=error.problems) from None
        proposed = None
        if candidate is not None:
            proposed = await asyncio.to_thread(_config, _text(candidate, "the candidate config"))
        async with self.context.sessions() as session:
            active = await self.context.configs.active(session)
            state = await self.context.bus.ask(session, CurrentRoutingState())
            index = await self.context.bus.ask(session, CurrentAccountIndex())
        if active is None and proposed is None:
            raise NoActiveConfig("no active config to simulate: PUT one, or send a candidate config")
        result = what_if(
            lead_list, active.config if active else None, proposed, state, self.context.clock(), index
        )
        if active is not None:
            result["active"]["version"] = active.version
        return result


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise NotText(f"{what} is not UTF-8 text") from None


def _config(source: str) -> RoutingConfig:
    try:
        return parse_config(source)
    except ConfigInvalid as error:
        raise InvalidConfig(error) from None
