"""The intake feature in the app: its API, and the runtime's idempotent producer to emit with."""

from __future__ import annotations

from fastapi import FastAPI
from handoff_shared.runtime import Runtime

from handoff_router.context import RouterContext
from handoff_router.intake import endpoints
from handoff_router.intake.service import Intake


def install(app: FastAPI, runtime: Runtime, context: RouterContext) -> Intake:
    """Add the intake API; it produces with the runtime's producer once that is connected."""
    intake = Intake(context, lambda: runtime.producer)
    app.include_router(endpoints.router)
    return intake
