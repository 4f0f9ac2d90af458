"""The router's FastAPI app factory and lifespan wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from handoff_shared import events
from handoff_shared.http import health_router, install_problem_handlers
from handoff_shared.kafka import decode_batch
from handoff_shared.runtime import Runtime
from handoff_shared.stopping import wait_or_stop

from handoff_router import tables
from handoff_router.assignments import endpoints as assignment_endpoints
from handoff_router.assignments.service import Assignments
from handoff_router.configs import endpoints as config_endpoints
from handoff_router.configs.repository import ConfigCache
from handoff_router.configs.service import RoutingConfigs
from handoff_router.reps import endpoints as rep_endpoints
from handoff_router.reps.service import Reps
from handoff_router.settings import RouterSettings


def create_app(settings: RouterSettings) -> FastAPI:
    """The router: SDR and admin API, MQL and reassignment consumers, outbox relay."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, schema=tables.SCHEMA, outbox=tables.outbox)
        assignments = Assignments(runtime.sessions, ConfigCache(), settings)
        app.state.settings = settings
        app.state.runtime = runtime
        app.state.assignments = assignments
        app.state.configs = RoutingConfigs(assignments)
        app.state.reps = Reps(assignments)

        async def on_mqls(records: Sequence[Any]) -> None:
            valid, dead = decode_batch(
                records, {events.MQL_CREATED}, runtime.dead_letter_topic, service="router"
            )
            await assignments.route_mqls(valid, dead)
            runtime.relay.wake()

        async def on_escalations(records: Sequence[Any]) -> None:
            valid, dead = decode_batch(
                records, {events.LEAD_ESCALATED}, runtime.dead_letter_topic, service="router"
            )
            await assignments.reassign_escalated(valid, dead)
            runtime.relay.wake()

        async def drain_queue_periodically(stop: Any) -> None:
            # Capacity also frees with time: availability ending, a rep's new local day.
            interval = settings.queue_drain_interval.total_seconds()
            while not stop.is_set():
                await assignments.drain_queue()
                runtime.relay.wake()
                await wait_or_stop(stop, interval)

        runtime.consume(settings.consumer_group, [settings.topic_mql_created], on_mqls)
        runtime.consume(settings.reassign_group, [settings.topic_lead_escalated], on_escalations)
        runtime.spawn("queue-drain", drain_queue_periodically)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Handoff router",
        version="0.1.0",
        description="Routes MQLs to SDRs by territory rules and fair rotation; the SDR and admin API.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(health_router(lambda: app.state.runtime.readiness()))
    app.include_router(assignment_endpoints.router)
    app.include_router(rep_endpoints.router)
    app.include_router(config_endpoints.router)

    @app.middleware("http")
    async def wake_relay(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        if request.method != "GET" and hasattr(app.state, "runtime"):
            app.state.runtime.relay.wake()
        return response

    return app
