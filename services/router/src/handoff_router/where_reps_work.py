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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
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
from handoff_router.calendars import feature as calendars
from handoff_router.callbacks.repository import enqueue_messages
from handoff_router.channels import ChannelSender
from handoff_router.configs.service import RoutingConfigs
from handoff_router.context import RouterContext
from handoff_router.inbox import endpoints as inbox
from handoff_router.mail import feature as mail
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


def install(
    app: FastAPI, runtime: Runtime, context: RouterContext, assignments: Assignments, configs: RoutingConfigs
) -> Channels:
    """Wire Slack, e-mail, the inbox, calendars and offboarding; answer the channel senders."""
    settings = context.settings
    link = inbox_url(context)
    senders: dict[str, ChannelSender] = {}
    slack.install(app, context, enqueue_messages, decider(assignments), link)
    slack_sender = slack.sender(context)
    if slack_sender is not None:
        senders["slack"] = slack_sender
    mail_sender = mail.install(context, enqueue_messages, link)
    if mail_sender is not None:
        senders["email"] = mail_sender
    inbox.install(app)

    reader = calendars.install(context)
    if settings.callback_delivery:  # the process that runs background deliveries reads feeds too
        runtime.spawn("calendar-reader", reader.run)

    async def offboard_config(
        session: AsyncSession, rep_id: str, successor: str, now: datetime
    ) -> dict[str, Any]:
        return await configs.offboard(session, rep_id, successor, now)

    async def offboard_assignments(
        session: AsyncSession, rep_id: str, successor: str, now: datetime
    ) -> dict[str, Any]:
        return await reroute_pending(context, session, rep_id, successor, now)

    context.on_offboarded.extend([offboard_config, offboard_assignments])
    return Channels(senders)


def move_accounts_on_offboarding(
    context: RouterContext, move: Callable[[AsyncSession, str, str], Awaitable[int]]
) -> None:
    """The account book's ownership move, on "rep offboarded" (in the same unit of work)."""

    async def offboard_book(
        session: AsyncSession, rep_id: str, successor: str, now: datetime
    ) -> dict[str, Any]:
        return {"accounts_moved": await move(session, rep_id, successor)}

    context.on_offboarded.append(offboard_book)
