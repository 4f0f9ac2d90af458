"""Composition of where reps work (CONTRACT §12): Slack, e-mail, the inbox, calendars and
offboarding, wired to the features they meet. Part of the composition root: the one place
besides ``app.py`` that knows these features, so none of them imports another.

- Slack and e-mail messages are deliveries of the callbacks feature's queue (their channels'
  senders run in its worker); Slack clicks run the assignments feature's accept and reject.
- Calendars check their URLs with the outbound address rule of ``handoff_shared.addresses``.
- "Rep offboarded" goes to the configs feature (inactive, named accounts to the successor),
  the assignments feature (pending leads routed again), and the account book (its accounts
  owned by the rep move to the successor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from handoff_shared.runtime import Runtime
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.assignments.errors import (
    AlreadyDecided,
    AssignmentNotFound,
    InvalidReason,
    NotYourAssignment,
)
from handoff_router.assignments.offboarding import reroute_pending
from handoff_router.assignments.service import Assignments
from handoff_router.bootstrap import Router
from handoff_router.calendars import feature as calendars
from handoff_router.callbacks.repository import enqueue_messages
from handoff_router.channels import ChannelSender
from handoff_router.context import RouterContext
from handoff_router.facts import (
    ConfigApplied,
    ConfigProblems,
    EscalationsReceived,
    LeadsAssigned,
    RepLoadFields,
    RepOffboarded,
    RoutingInputs,
)
from handoff_router.inbox import endpoints as inbox
from handoff_router.mail import feature as mail
from handoff_router.routing.problems import Problem
from handoff_router.slack import feature as slack
from handoff_router.slack.feature import Outcome
from handoff_router.slack.interactions import Click


@dataclass(frozen=True)
class Channels:
    """The senders of the channels beside callbacks, for the delivery worker."""

    senders: dict[str, ChannelSender]


def inbox_url(context: RouterContext) -> str:
    settings = context.settings
    base = settings.public_url or f"http://{settings.http_host}:{settings.http_port}"
    return base.rstrip("/") + "/inbox"


def decider(assignments: Assignments) -> slack.Decide:
    """A Slack click as the HTTP API's accept or reject, for the rep who clicked."""

    async def decide(click: Click, rep_id: str) -> Outcome:
        try:
            await assignments.check_owner(click.assignment_id, rep_id)
            if click.action == "accept":
                await assignments.accept(click.assignment_id, rep_id)
                return "accepted"
            await assignments.reject(click.assignment_id, rep_id, click.reason or "", None)
            return "rejected"
        except (AssignmentNotFound, NotYourAssignment):
            return "not_yours"
        except AlreadyDecided:
            return "already_decided"
        except InvalidReason:
            return "invalid"

    return decide


def install(app: FastAPI, runtime: Runtime, router: Router) -> Channels:
    """Wire Slack, e-mail, the inbox, calendars and offboarding on the bus; answer the channel senders."""
    context, bus = router.context, router.context.bus
    link = inbox_url(context)
    senders: dict[str, ChannelSender] = {}
    slack_feature = slack.install(app, context, enqueue_messages, decider(router.assignments), link)
    slack_sender = slack.sender(context)
    if slack_sender is not None:
        senders["slack"] = slack_sender

    async def slack_assigned(session: AsyncSession, fact: LeadsAssigned) -> None:
        await slack_feature.on_assigned(session, [item.row for item in fact.assigned])

    async def slack_escalated(session: AsyncSession, fact: EscalationsReceived) -> None:
        await slack_feature.on_escalated(session, [(item.event, item.data) for item in fact.escalations])

    bus.on(LeadsAssigned, slack_assigned)
    bus.on(EscalationsReceived, slack_escalated)
    email = mail.install(context, enqueue_messages, link)
    if email is not None:
        writer, senders["email"] = email

        async def email_assigned(session: AsyncSession, fact: LeadsAssigned) -> None:
            await writer.on_assigned(session, [item.row for item in fact.assigned])

        bus.on(LeadsAssigned, email_assigned)
    inbox.install(app)
    _wire_calendars(runtime, context)
    _wire_offboarding(router)
    return Channels(senders)


def _wire_calendars(runtime: Runtime, context: RouterContext) -> None:
    reader = calendars.install(context)
    bus = context.bus

    async def problems(session: AsyncSession, question: ConfigProblems) -> list[Problem]:
        return reader.config_problems(question.config)

    async def applied(session: AsyncSession, fact: ConfigApplied) -> None:
        await reader.on_config_applied(session, fact.version)

    async def inputs(session: AsyncSession, question: RoutingInputs) -> dict[str, Any]:
        return await reader.routing_input(session, question.now)

    async def load_fields(session: AsyncSession, question: RepLoadFields) -> dict[str, dict[str, Any]]:
        return await reader.load_fields(session, question.now)

    bus.contribute(ConfigProblems, problems)
    bus.on(ConfigApplied, applied)
    bus.contribute(RoutingInputs, inputs)
    bus.contribute(RepLoadFields, load_fields)
    if context.settings.callback_delivery:  # the process that runs background deliveries reads feeds too
        runtime.spawn("calendar-reader", reader.run)


def _wire_offboarding(router: Router) -> None:
    """ "Rep offboarded" goes to the config, the assignments and the account book."""
    context = router.context

    async def offboard_config(session: AsyncSession, fact: RepOffboarded) -> None:
        fact.moved.update(await router.configs.offboard(session, fact.rep_id, fact.successor, fact.at))

    async def offboard_assignments(session: AsyncSession, fact: RepOffboarded) -> None:
        fact.moved.update(await reroute_pending(context, session, fact.rep_id, fact.successor, fact.at))

    async def offboard_book(session: AsyncSession, fact: RepOffboarded) -> None:
        fact.moved["accounts_moved"] = await router.accounts.move_ownership(
            session, fact.rep_id, fact.successor
        )

    context.bus.on(RepOffboarded, offboard_config, offboard_assignments, offboard_book)
