"""The router's app factory: wiring only. Each feature owns its endpoints, its use cases, its
consumers and background work; this says which run in the process and hands them the context."""

from __future__ import annotations

from fastapi import FastAPI
from handoff_shared.service import create_service

from handoff_router import retention, tables, where_reps_work
from handoff_router.accounts import feature as accounts
from handoff_router.assignments import endpoints as assignment_endpoints
from handoff_router.assignments.consumer import mql_handler
from handoff_router.assignments.service import Assignments
from handoff_router.auth import Authentication, edge_caller
from handoff_router.callbacks import feature as callbacks
from handoff_router.configs import endpoints as config_endpoints
from handoff_router.configs.repository import ConfigCache
from handoff_router.configs.service import RoutingConfigs
from handoff_router.context import RouterContext
from handoff_router.errors import ERROR_STATUSES
from handoff_router.escalations.consumer import escalation_handler
from handoff_router.intake import feature as intake
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
        authenticate=edge_caller,
    )
    app, runtime = service.app, service.runtime
    memory = accounts.AccountMemory(runtime.sessions)
    context = RouterContext(
        settings=settings,
        sessions=runtime.sessions,
        configs=ConfigCache(),
        relay=runtime.relay,
        memory=memory,
    )
    queue = Queue(context)
    reps = Reps(context)
    assignments = app.state.assignments = Assignments(context)
    app.state.reps = reps
    app.state.authentication = Authentication(settings.admin_token, reps)
    configs = app.state.configs = RoutingConfigs(context)
    app.state.queue = queue
    for router in (
        assignment_endpoints.router,
        rep_endpoints.router,
        config_endpoints.router,
        queue_endpoints.router,
    ):
        app.include_router(router)
    channels = where_reps_work.install(app, runtime, context, assignments, configs)
    app.state.callbacks = callbacks.install(app, runtime, context, channels.senders)
    book = accounts.install(app, runtime, context, memory)
    where_reps_work.move_accounts_on_offboarding(context, book.move_ownership)
    app.state.intake = intake.install(app, runtime, context)

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
    runtime.retain(retention.rules(settings))
    return app
