"""The feedback service's app: wiring only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from handoff_shared.service import create_service

from handoff_feedback import retention, tables
from handoff_feedback.configs.service import ConfigEvents
from handoff_feedback.dashboard.endpoints import dashboard_router
from handoff_feedback.ingest.service import Ingest
from handoff_feedback.reports.endpoints import reports_router
from handoff_feedback.reports.service import Reports
from handoff_feedback.settings import Settings
from handoff_feedback.snapshots.service import Snapshots


def utc_now() -> datetime:
    return datetime.now(UTC)


def lifecycle_topics(settings: Settings) -> list[str]:
    """Every topic the outcome logic reads."""
    return [
        settings.topic_mql_created,
        settings.topic_lead_assigned,
        settings.topic_lead_accepted,
        settings.topic_lead_rejected,
        settings.topic_lead_escalated,
        settings.topic_lead_qualified,
    ]


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """Owns outcomes, aggregates, alerts and rep signals: consumes the lead lifecycle, publishes
    `scoring.feedback`, serves the reports (admin token) and the dashboard at `/`."""
    service = create_service(
        settings,
        title="Handoff feedback",
        description=create_app.__doc__ or "",
        schema=tables.SCHEMA,
        outbox=tables.outbox,
    )
    runtime, app = service.runtime, service.app
    app.state.settings = settings
    runtime.consume(settings.consumer_group, lifecycle_topics(settings), Ingest(runtime, settings).on_records)
    runtime.consume(
        settings.config_consumer_group,
        [settings.topic_routing_config],
        ConfigEvents(runtime, settings).on_records,
    )
    runtime.spawn("snapshots", Snapshots(runtime, settings, clock).run)
    app.include_router(reports_router(Reports(settings), runtime.sessions, clock))
    app.include_router(dashboard_router())
    runtime.retain(retention.rules(settings))
    return app
