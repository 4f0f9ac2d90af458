"""The callbacks feature in the app: its admin service, its delivery worker, and what wakes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from handoff_shared.runtime import Runtime
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.base import RequestResponseEndpoint

from handoff_router.callbacks import endpoints, recipients, repository
from handoff_router.callbacks.service import Callbacks
from handoff_router.callbacks.worker import DeliveryWorker
from handoff_router.channels import ChannelSender
from handoff_router.context import LeadReengaged, RouterContext


def install(
    app: FastAPI,
    runtime: Runtime,
    context: RouterContext,
    channels: Mapping[str, ChannelSender] | None = None,
) -> Callbacks:
    """Add the callbacks API, run the delivery worker (``HANDOFF_CALLBACK_DELIVERY``) and wake it
    whenever deliveries may have become due; answer the admin service. ``channels``: the senders
    of the other channels (Slack, e-mail) whose messages the same worker delivers."""

    async def circuit_closed() -> None:
        # The rep is routable again: the leads that waited for someone reachable go now.
        context.queue_changed.wake()

    deliveries = DeliveryWorker(context.sessions, context.settings, context.clock, circuit_closed, channels)
    callbacks = Callbacks(context, deliveries.wake)
    app.include_router(endpoints.router)
    if context.settings.callback_delivery:
        runtime.spawn("callback-delivery", deliveries.run)

    @app.middleware("http")
    async def wake_deliveries(request: Request, call_next: RequestResponseEndpoint) -> Response:
        # A request that wrote (an assignment decided, a secret issued) may have made callbacks due.
        response = await call_next(request)
        if request.method != "GET":
            deliveries.wake()
        return response

    async def wake_after_commit(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        deliveries.wake_on_commit(session)  # runs in the transaction; wakes the worker once it commits

    async def tell_reengaged(session: AsyncSession, facts: Sequence[LeadReengaged]) -> None:
        # CONTRACT §11: the rep of the open assignment hears that their lead came back.
        config = await context.configs.active(session)
        now = context.clock()
        new = [
            recipients.for_reengaged(
                config.config if config else None, fact, context.settings.event_source, now
            )
            for fact in facts
        ]
        await repository.enqueue(session, new)
        deliveries.wake_on_commit(session)

    context.on_assigned.append(wake_after_commit)
    context.on_reengaged.append(tell_reengaged)
    return callbacks
