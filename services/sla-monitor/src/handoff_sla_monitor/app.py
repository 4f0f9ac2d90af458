"""The sla-monitor service's app: wiring only."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from handoff_shared import events
from handoff_shared.kafka import decode_batch
from handoff_shared.service import create_service
from handoff_shared.stopping import wait_or_stop

from handoff_sla_monitor import retention, tables
from handoff_sla_monitor.settings import Settings
from handoff_sla_monitor.timers import endpoints
from handoff_sla_monitor.timers.event_views import VIEWS
from handoff_sla_monitor.timers.reports import TimerReports
from handoff_sla_monitor.timers.service import Timers, utc_now

CONSUMED_TYPES = frozenset({events.LEAD_ASSIGNED, events.LEAD_ACCEPTED, events.LEAD_REJECTED})


def create_app(settings: Settings) -> FastAPI:
    """Owns SLA timers: opens them on assignments, closes them on decisions, fires the ladder."""
    service = create_service(
        settings,
        title="Handoff sla-monitor",
        description=create_app.__doc__ or "",
        schema=tables.SCHEMA,
        outbox=tables.outbox,
    )
    runtime = service.runtime
    timers = Timers(runtime.sessions, settings.event_source, settings.topic_lead_escalated)
    service.app.state.settings = settings
    service.app.state.reports = TimerReports(runtime.sessions, utc_now)

    async def on_records(records: Sequence[Any]) -> None:
        valid, dead = decode_batch(
            records, CONSUMED_TYPES, runtime.dead_letter_topic, service="sla-monitor", views=VIEWS
        )
        await timers.apply(valid, dead)
        if dead:
            runtime.relay.wake()

    async def scan(stop: asyncio.Event) -> None:
        while not stop.is_set():
            claimed = await timers.scan_once(settings.sla_scan_batch)
            if claimed:
                runtime.relay.wake()
            if claimed < settings.sla_scan_batch:
                await wait_or_stop(stop, settings.sla_scan_interval.total_seconds())

    async def refresh_gauges(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await timers.refresh_gauges()
            await wait_or_stop(stop, settings.sla_gauges_interval.total_seconds())

    runtime.consume(
        settings.consumer_group,
        [settings.topic_lead_assigned, settings.topic_lead_accepted, settings.topic_lead_rejected],
        on_records,
    )
    runtime.spawn("sla-scanner", scan)
    runtime.spawn("sla-gauges", refresh_gauges)
    runtime.retain(retention.rules(settings))
    service.app.include_router(endpoints.router)
    return service.app
