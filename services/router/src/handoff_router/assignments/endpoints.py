"""The SDR API (CONTRACT §5): accept, reject, read assignments."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from handoff_router.assignments.errors import AssignmentNotFound, NotYourAssignment
from handoff_router.assignments.records import AssignmentView
from handoff_router.deps import AssignmentsService, CurrentCaller, CurrentRep

router = APIRouter(prefix="/v1", tags=["assignments"])

Status = Literal["pending", "accepted", "rejected", "reassigned"]
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or an unknown one"},
    403: {"description": "Not your assignment"},
    404: {"description": "No such assignment"},
    409: {"description": "Already decided the other way, or reassigned away from you"},
}


class Rejection(BaseModel):
    """Why a rep rejects a lead: one of the configured reason codes; ``other`` needs a note."""

    reason: str = Field(min_length=1, max_length=100, examples=["wrong_persona"])
    note: str | None = Field(default=None, max_length=2000)


@router.post("/assignments/{assignment_id}/accept", responses=ERRORS)
async def accept(assignment_id: str, rep_id: CurrentRep, service: AssignmentsService) -> AssignmentView:
    """Accept an assignment of yours. Accepting again answers 200 and emits nothing."""
    return await service.accept(assignment_id, rep_id)


@router.post("/assignments/{assignment_id}/reject", responses={**ERRORS, 422: {"description": "Bad reason"}})
async def reject(
    assignment_id: str, body: Rejection, rep_id: CurrentRep, service: AssignmentsService
) -> AssignmentView:
    """Reject an assignment of yours with a reason code; ``wrong_territory`` routes the lead again."""
    return await service.reject(assignment_id, rep_id, body.reason, body.note)


@router.get("/assignments/{assignment_id}", responses=ERRORS)
async def get_assignment(
    assignment_id: str, caller: CurrentCaller, service: AssignmentsService
) -> AssignmentView:
    """An assignment, its state and explanation: for the assigned rep and admins."""
    row = await service.get(assignment_id)
    if row is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    if not caller.is_admin and row.rep_id != caller.rep_id:
        raise NotYourAssignment(f"assignment {assignment_id} is not assigned to you")
    return AssignmentView.of(row)


@router.get("/reps/me/assignments")
async def my_assignments(
    rep_id: CurrentRep,
    service: AssignmentsService,
    status: Status | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[AssignmentView]:
    """The calling rep's assignments, newest first, optionally of one status."""
    return await service.of_rep(rep_id, status, limit)
