"""The router's app factory: wiring only. Each feature owns its endpoints, its use cases, its
consumers and background work; this says which run in the process and hands them the context."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from handoff_shared.service import create_service

from handoff_router import tables
from handoff_router.assignments import endpoints as assignment_endpoints
from handoff_router.assignments.consumer import mql_handler
from handoff_router.assignments.service import Assignments
from handoff_router.callbacks import endpoints as callback_endpoints
from handoff_router.callbacks.service import Callbacks
from handoff_router.callbacks.worker import DeliveryWorker
from handoff_router.configs import endpoints as config_endpoints
from handoff_router.configs.repository import ConfigCache
from handoff_router.configs.service import RoutingConfigs
from handoff_router.context import RouterContext
from handoff_router.errors import ERROR_STATUSES
from handoff_router.escalations.consumer import escalation_handler
from handoff_router.queue import endpoints as queue_endpoints
from handoff_router.queue.service import Queue
from handoff_router.reps import endpoints as rep_endpoints
from handoff_router.reps.service import Reps
from handoff_router.settings import RouterSettings


def create_app(settings: RouterSettings) -> FastAPI:
    """The router: SDR and admin API, MQL and reassignment consumers, queue drainer, outbox relay."""
    service = create_service(
        settings,
        title="Handoff router",
        description="Routes MQLs to SDRs by territory rules and fair rotation; the SDR and admin API.",
        schema=tables.SCHEMA,
        outbox=tables.outbox,
        errors=ERROR_STATUSES,
    )
    app, runtime = service.app, service.runtime
    context = RouterContext(
        settings=settings, sessions=runtime.sessions, configs=ConfigCache(), relay=runtime.relay
    )
    queue = Queue(context)

    async def circuit_closed() -> None:
        # The rep is routable again: the leads that waited for someone reachable go now.
        context.queue_changed.wake()

    deliveries = DeliveryWorker(runtime.sessions, settings, context.clock, circuit_closed)
    app.state.callbacks = Callbacks(runtime.sessions, settings, context.clock, deliveries.wake)

    app.state.assignments = Assignments(context)
    app.state.reps = Reps(context)
    app.state.configs = RoutingConfigs(context)
    app.state.queue = queue
    for router in (
        assignment_endpoints.router,
        rep_endpoints.router,
        config_endpoints.router,
        queue_endpoints.router,
        callback_endpoints.router,
    ):
        app.include_router(router)

    runtime.consume(
        settings.consumer_group, [settings.topic_mql_created], mql_handler(context, runtime.dead_letter_topic)
    )
    runtime.consume(
        settings.reassign_group,
        [settings.topic_lead_escalated],
        escalation_handler(context, runtime.dead_letter_topic),
    )
    runtime.spawn("queue-drainer", queue.run_drainer)
    runtime.spawn("queue-listener", queue.run_listener)
    if settings.callback_delivery:
        runtime.spawn("callback-delivery", deliveries.run)

    @app.middleware("http")
    async def wake_deliveries(request: Any, call_next: Any) -> Any:
        # A request that wrote (an assignment decided, a secret issued) may have made callbacks due.
        response = await call_next(request)
        if request.method != "GET":
            deliveries.wake()
        return response

    async def wake_after_commit(session: Any, rows: Any) -> None:
        deliveries.wake_on_commit(session)  # runs in the transaction; wakes the worker once it commits

    context.on_assigned.append(wake_after_commit)
    return app
