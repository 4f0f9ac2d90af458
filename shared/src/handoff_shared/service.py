"""One service process as a FastAPI app: its runtime (engine, producer, outbox relay, consumers,
background work), health and metrics, problem details. Each service's own ``create_app`` builds
one with ``create_service`` and adds its routers, consumers and background work to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Table

from handoff_shared import garbage_collection, tracing
from handoff_shared.api_docs import add_redoc
from handoff_shared.edge import Authenticate, RequestEdge, admin_only
from handoff_shared.http import (
    ErrorStatuses,
    RequestMetrics,
    document_problems,
    health_router,
    install_problem_handlers,
)
from handoff_shared.runtime import Runtime
from handoff_shared.settings import ServiceSettings


@dataclass(frozen=True)
class Service:
    """A service's app and the runtime its lifespan starts and stops."""

    app: FastAPI
    runtime: Runtime


def create_service(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    schema: str,
    outbox: Table,
    errors: ErrorStatuses | None = None,
    version: str = "0.1.0",
    authenticate: Authenticate = admin_only,
) -> Service:
    """The app and runtime every service starts from; nothing connects before the lifespan starts.

    Register consumers (``runtime.consume``) and background work (``runtime.spawn``) and include
    routers before the app is served: the lifespan starts them all, and stops them cleanly.
    ``errors`` maps the service's domain errors to HTTP statuses, in this one place.
    ``authenticate`` tells whom a bearer token names (edge.py: checked before any body is read).
    """
    tracing.configure(
        settings.service_name, otlp_endpoint=settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio
    )
    runtime = Runtime(settings, schema=schema, outbox=outbox)
    tracing.instrument_engine(runtime.engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        garbage_collection.freeze_start_up_heap()
        try:
            yield
        finally:
            await runtime.stop()
            tracing.shutdown()

    # /docs and /redoc serve their scripts and styles from the fastapi-offline package, not from a
    # CDN: the pages work on a machine without internet access (ReDoc's logo: api_docs.py).
    app = FastAPIOffline(
        title=title, version=version, description=description, lifespan=lifespan, redoc_url=None
    )
    add_redoc(app)
    app.state.runtime = runtime
    install_problem_handlers(app, errors)
    document_problems(app)
    app.add_middleware(RequestEdge, max_body=settings.http_max_body, authenticate=authenticate)
    app.add_middleware(RequestMetrics, service=settings.service_name)
    app.include_router(health_router(runtime.readiness))
    tracing.instrument_app(app)
    return Service(app=app, runtime=runtime)
