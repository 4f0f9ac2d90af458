"""The feedback service's FastAPI app factory and lifespan wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from handoff_shared import events
from handoff_shared.http import health_router, install_problem_handlers
from handoff_shared.runtime import Runtime, recording_handler

from handoff_feedback import tables
from handoff_feedback.settings import Settings

CONSUMED_TYPES = frozenset(
    {events.LEAD_ASSIGNED, events.LEAD_ACCEPTED, events.LEAD_REJECTED, events.LEAD_ESCALATED}
)


def create_app(settings: Settings) -> FastAPI:
    """Owns outcomes and aggregates: consumes the lead lifecycle (reports and snapshots are a later issue)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, schema=tables.SCHEMA, outbox=tables.outbox)
        app.state.runtime = runtime

        on_records = recording_handler(runtime, tables.processed_events, tables.outbox, CONSUMED_TYPES)
        runtime.consume(
            settings.consumer_group,
            [
                settings.topic_lead_assigned,
                settings.topic_lead_accepted,
                settings.topic_lead_rejected,
                settings.topic_lead_escalated,
            ],
            on_records,
        )
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Handoff feedback", version="0.1.0", description=create_app.__doc__ or "", lifespan=lifespan
    )
    install_problem_handlers(app)
    app.include_router(health_router(lambda: app.state.runtime.readiness()))
    return app
