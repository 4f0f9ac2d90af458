"""The sla-monitor service's FastAPI app factory and lifespan wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from handoff_shared import events
from handoff_shared.db import transaction
from handoff_shared.http import health_router, install_problem_handlers
from handoff_shared.idempotency import first_seen
from handoff_shared.kafka import decode_batch
from handoff_shared.outbox import add as add_to_outbox
from handoff_shared.runtime import Runtime

from handoff_sla_monitor import tables
from handoff_sla_monitor.settings import Settings

log = structlog.get_logger(__name__)
CONSUMED_TYPES = frozenset({events.LEAD_ASSIGNED, events.LEAD_ACCEPTED, events.LEAD_REJECTED})


def create_app(settings: Settings) -> FastAPI:
    """Owns SLA timers: consumes assignments and decisions (the escalation ladder is a later issue)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, schema=tables.SCHEMA, outbox=tables.outbox)
        app.state.runtime = runtime

        async def on_records(records: Sequence[Any]) -> None:
            valid, dead = decode_batch(
                records, CONSUMED_TYPES, runtime.dead_letter_topic, service=settings.service_name
            )
            async with transaction(runtime.sessions) as session:
                await add_to_outbox(session, tables.outbox, dead)
                fresh = await first_seen(session, tables.processed_events, valid)
            log.info("events.recorded", received=len(records), fresh=len(fresh), dead_letters=len(dead))
            if dead:
                runtime.relay.wake()

        runtime.consume(
            settings.consumer_group,
            [settings.topic_lead_assigned, settings.topic_lead_accepted, settings.topic_lead_rejected],
            on_records,
        )
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Handoff sla-monitor", version="0.1.0", description=create_app.__doc__ or "", lifespan=lifespan
    )
    install_problem_handlers(app)
    app.include_router(health_router(lambda: app.state.runtime.readiness()))
    return app
