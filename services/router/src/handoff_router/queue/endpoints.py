"""The unassigned queue (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from handoff_shared.http import problem_responses

from handoff_router.auth import Admin
from handoff_router.queue.schemas import QueuedLead, QueueOut, Release
from handoff_router.queue.service import Queue

router = APIRouter(prefix="/v1", tags=["routing"])


def get_queue(request: Request) -> Queue:
    queue: Queue = request.app.state.queue
    return queue


@router.get(
    "/queue",
    responses=problem_responses(
        {401: "No token, or an unknown one", 403: "Not the admin token", 422: "A limit out of range"}
    ),
)
async def queue(
    _: Admin, queue: Annotated[Queue, Depends(get_queue)], limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> QueueOut:
    """Leads no one can take right now, oldest first, with why."""
    return await queue.show(limit)


@router.post(
    "/queue/{lead_id}/release",
    responses=problem_responses(
        {
            401: "No token, or an unknown one",
            403: "Not the admin token",
            404: "The lead is not in the queue",
            409: "The lead is not parked (it waits for capacity)",
            422: "An invalid body",
        }
    ),
)
async def release(
    _: Admin, lead_id: str, queue: Annotated[Queue, Depends(get_queue)], body: Release | None = None
) -> QueuedLead:
    """Send a parked lead (for example after ``sla.max_reassignments``) back to routing."""
    return await queue.release(lead_id, body or Release())
