"""The Slack feature: the assignment DM and the manager's channel, and the clicks that come back.

Messages go through the durable delivery the root hands in (``deliver``); clicks run the
same accept and reject use cases as the HTTP API, through ``decide``, for the rep whose
``slack_user_id`` clicked. Slack is off (nothing written) without ``HANDOFF_SLACK_BOT_TOKEN``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from handoff_shared.http import problem_responses
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.channels import ChannelMessage, Deliver
from handoff_router.context import RouterContext
from handoff_router.routing.config import RoutingConfig
from handoff_router.slack import messages
from handoff_router.slack.errors import NotFromSlack, SlackNotConfigured
from handoff_router.slack.interactions import Click, NotAClick, is_signed_by_slack, read_click
from handoff_router.slack.sender import SlackSender

log = structlog.get_logger(__name__)
MAX_BODY = 64 * 1024
Outcome = Literal["accepted", "rejected", "not_yours", "already_decided", "invalid"]
Decide = Callable[[Click, str], Awaitable[Outcome]]
"""Runs the click for the rep (the assignments feature's accept or reject) and says how it went."""
ESCALATION_LEVELS = frozenset({"escalate", "reassign"})
SAYS = {
    "not_yours": "Not your lead: nothing was changed.",
    "already_decided": "This lead was already decided or has moved on: nothing was changed.",
    "invalid": "That choice could not be used: nothing was changed.",
}


@dataclass
class Slack:
    """Writes the Slack messages of assignments and escalations; handles clicks."""

    context: RouterContext
    deliver: Deliver
    decide: Decide
    inbox_url: str

    @property
    def enabled(self) -> bool:
        return bool(self.context.settings.slack_bot_token.get_secret_value())

    async def on_assigned(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """A DM for each new assignment to a rep with ``slack_user_id``, in the same transaction."""
        if not self.enabled:
            return
        version = await self.context.configs.active(session)
        if version is None:
            return
        config = version.config
        reps = {rep.id: rep for rep in config.reps if rep.slack_user_id}
        out = []
        for row in rows:
            rep = reps.get(row["rep_id"])
            if rep is None or rep.slack_user_id is None:
                continue
            call = messages.assignment_message(
                row, rep.slack_user_id, rep.timezone, config.rejection_reasons, self.inbox_url
            )
            out.append(self._message("rep", rep.id, f"assigned:{row['assignment_id']}", row, call))
        await self.deliver(session, out)

    async def on_escalated(self, session: AsyncSession, seen: Sequence[tuple[Any, Any]]) -> None:
        """Escalations (and reassignments) of a rep's lead in their manager's ``slack_channel``."""
        if not self.enabled:
            return
        version = await self.context.configs.active(session)
        if version is None:
            return
        config = version.config
        out = []
        for event, data in seen:
            if data.level not in ESCALATION_LEVELS:
                continue
            manager = _manager(config, data.manager_id, data.rep_id)
            if manager is None or manager.slack_channel is None:
                continue
            rep = next((rep for rep in config.reps if rep.id == data.rep_id), None)
            call = messages.escalation_message(
                data.model_dump(mode="json"), manager.slack_channel, rep.slack_user_id if rep else None
            )
            row = {"lead_id": data.lead_id, "assigned_at": event.time or self.context.clock()}
            out.append(self._message("manager", manager.id, f"escalated:{event.id}", row, call))
        await self.deliver(session, out)

    def _message(
        self, kind: Literal["rep", "manager"], owner: str, event_id: str, row: Mapping[str, Any], call: Any
    ) -> ChannelMessage:
        return ChannelMessage(
            channel="slack",
            owner_kind=kind,
            owner_id=owner,
            event_id=event_id,
            event_type="slack.message",
            lead_id=row.get("lead_id"),
            body=orjson.dumps(call),
            created_at=row.get("assigned_at") or self.context.clock(),
        )

    async def interaction(self, body: bytes, timestamp: str | None, signature: str | None) -> None:
        """A verified click: decide as the rep who clicked, then show it in the message."""
        secret = self.context.settings.slack_signing_secret.get_secret_value()
        if not secret:
            raise SlackNotConfigured("set HANDOFF_SLACK_SIGNING_SECRET to take Slack interactions")
        if not is_signed_by_slack(secret, body, timestamp, signature, time.time()):
            raise NotFromSlack("the Slack signature or its timestamp does not check out")
        try:
            click = read_click(body)
        except NotAClick as error:
            log.info("slack.interaction_ignored", reason=str(error))
            return
        rep_id = await self._rep_of(click.user_id)
        outcome: Outcome = "not_yours" if rep_id is None else await self.decide(click, rep_id)
        log.info("slack.click", action=click.action, assignment_id=click.assignment_id, outcome=outcome)
        await self._answer(click, rep_id, outcome)

    async def _rep_of(self, slack_user_id: str) -> str | None:
        async with self.context.sessions() as session:
            version = await self.context.configs.active(session)
        if version is None:
            return None
        return next((rep.id for rep in version.config.reps if rep.slack_user_id == slack_user_id), None)

    async def _answer(self, click: Click, rep_id: str | None, outcome: Outcome) -> None:
        if click.channel_id is None:
            return
        owner = rep_id or f"slack-user-{click.user_id}"
        if outcome in ("accepted", "rejected") and click.message_ts:
            said = "Accepted" if outcome == "accepted" else f"Rejected ({click.reason})"
            call = messages.decided_message(
                click.channel_id, click.message_ts, click.blocks, f"{said} by <@{click.user_id}>"
            )
            event_id = f"decided:{click.assignment_id}:{outcome}"
        else:
            call = messages.ephemeral(click.channel_id, click.user_id, SAYS.get(outcome, SAYS["invalid"]))
            event_id = f"ephemeral:{uuid.uuid4()}"
        message = ChannelMessage(
            channel="slack",
            owner_kind="rep",
            owner_id=owner,
            event_id=event_id,
            event_type="slack.message",
            lead_id=None,
            body=orjson.dumps(call),
            created_at=self.context.clock(),
        )
        async with self.context.transaction() as session:
            await self.deliver(session, [message])


def _manager(config: RoutingConfig, manager_id: str | None, rep_id: str) -> Any:
    if manager_id is None:
        rep = next((rep for rep in config.reps if rep.id == rep_id), None)
        manager_id = rep.manager if rep is not None else None
    return next((manager for manager in config.managers if manager.id == manager_id), None)


class Acknowledged(BaseModel):
    """Slack's 200: the click is taken (Slack ignores the body of a block action's answer)."""

    ok: bool = True


router = APIRouter(tags=["slack"])


@router.post(
    "/v1/slack/interactions",
    response_model=Acknowledged,
    status_code=200,
    responses=problem_responses(
        {401: "Not signed by Slack, older than 5 minutes, or Slack is not configured", 413: "Body too large"}
    ),
)
async def interactions(request: Request) -> Acknowledged | Response:
    """Slack's interactivity endpoint: Accept and Reject-with-reason clicks of assignment messages.
    Answered as soon as the decision is recorded (well within Slack's 3 seconds)."""
    slack: Slack = request.app.state.slack
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return Response(status_code=413)
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    await slack.interaction(
        body, request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature")
    )
    return Acknowledged()


def install(app: FastAPI, context: RouterContext, deliver: Deliver, decide: Decide, inbox_url: str) -> Slack:
    """Add the interactions endpoint; the root wires ``on_assigned`` and ``on_escalated``."""
    slack = Slack(context, deliver, decide, inbox_url)
    app.state.slack = slack
    app.include_router(router)
    return slack


def sender(context: RouterContext) -> SlackSender | None:
    """The channel sender of Slack messages, when a bot token is set."""
    settings = context.settings
    token = settings.slack_bot_token.get_secret_value()
    if not token:
        return None
    return SlackSender(token, settings.slack_api_url, settings.callback_timeout.total_seconds())
