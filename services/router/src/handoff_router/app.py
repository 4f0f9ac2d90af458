"""The router's app factory: the composition root (``bootstrap.py``) builds and wires the
features; this puts their endpoints into FastAPI and their consumers and background work into
the runtime."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from handoff_shared.runtime import Runtime
from handoff_shared.service import create_service
from handoff_shared.wakeup import Wakeup

from handoff_router import retention, tables, where_reps_work
from handoff_router.accounts import endpoints as account_endpoints
from handoff_router.assignments import endpoints as assignment_endpoints
from handoff_router.assignments.consumer import mql_handler
from handoff_router.auth import edge_caller
from handoff_router.bootstrap import bootstrap
from handoff_router.callbacks import endpoints as callback_endpoints
from handoff_router.configs import endpoints as config_endpoints
from handoff_router.errors import ERROR_STATUSES
from handoff_router.escalations.consumer import escalation_handler
from handoff_router.intake import feature as intake
from handoff_router.queue import endpoints as queue_endpoints
from handoff_router.reps import endpoints as rep_endpoints
from handoff_router.settings import RouterSettings


def create_app(settings: RouterSettings) -> FastAPI:
    """The router: SDR and admin API, MQL and reassignment consumers, queue drainer, callback
    delivery, outbox relay."""
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
    router = bootstrap(settings, runtime.sessions, runtime.relay)
    context = router.context
    app.state.assignments = router.assignments
    app.state.reps = router.reps
    app.state.authentication = router.authentication
    app.state.configs = router.configs
    app.state.queue = router.queue
    app.state.callbacks = router.callbacks
    app.state.accounts = router.accounts
    for endpoints in (
        assignment_endpoints,
        rep_endpoints,
        config_endpoints,
        queue_endpoints,
        callback_endpoints,
        account_endpoints,
    ):
        app.include_router(endpoints.router)
    channels = where_reps_work.install(app, runtime, router)
    router.deliveries.channels.update(channels.senders)  # Slack and e-mail go through the same worker
    app.state.intake = intake.install(app, runtime, context)

    runtime.consume(
        settings.consumer_group, [settings.topic_mql_created], mql_handler(context, runtime.dead_letter_topic)
    )
    runtime.consume(
        settings.reassign_group,
        [settings.topic_lead_escalated],
        escalation_handler(context, runtime.dead_letter_topic),
    )
    runtime.spawn("queue-drainer", router.drainer.run)
    _listen(runtime, "queue-listener", router.queue_wakeup, settings)
    runtime.spawn("accounts-index", router.memory.book.run_refresher)
    _listen(runtime, "accounts-listener", router.memory.book.changed, settings)
    if settings.callback_delivery:
        runtime.spawn("callback-delivery", router.deliveries.run)
        _listen(runtime, "callback-listener", router.callback_wakeup, settings)
    runtime.retain(retention.rules(settings))
    return app


def _listen(runtime: Runtime, name: str, wakeup: Wakeup, settings: RouterSettings) -> None:
    """Run ``wakeup``'s LISTEN beside its worker: the wakeups other processes commit reach it."""
    url = settings.database_url.get_secret_value()
    check_every = min(settings.queue_drain_interval.total_seconds(), 30.0)

    async def listen(stop: asyncio.Event) -> None:
        await wakeup.listen(stop, url, check_every=check_every)

    runtime.spawn(name, listen)
