"""The SDR API (CONTRACT §5, §9): accept, reject, qualify, read assignments. Each endpoint parses, calls one
use case and shapes the answer; who may touch which assignment is the service's to say."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from handoff_shared.http import problem_responses

from handoff_router.assignments.schemas import AssignmentView, QualifyRequest, Rejection, Status
from handoff_router.assignments.service import Assignments
from handoff_router.auth import CurrentCaller, CurrentRep

router = APIRouter(prefix="/v1", tags=["assignments"])

UNAUTHENTICATED = {401: "No token, or an unknown one"}
DECIDE = {
    **UNAUTHENTICATED,
    403: "Not your assignment, or an admin token",
    404: "No such assignment",
    409: "Already decided the other way, or reassigned away from you",
}


def get_assignments(request: Request) -> Assignments:
    service: Assignments = request.app.state.assignments
    return service


AssignmentsService = Annotated[Assignments, Depends(get_assignments)]


async def own_assignment(assignment_id: str, rep_id: CurrentRep, service: AssignmentsService) -> str:
    """The calling rep's id once the assignment is known to be theirs: 403/404 come before any 422
    (the body's, and the reason's the service checks); the services do not query ownership again."""
    await service.check_owner(assignment_id, rep_id)
    return rep_id


OwnAssignment = Annotated[str, Depends(own_assignment)]


@router.post("/assignments/{assignment_id}/accept", responses=problem_responses(DECIDE))
async def accept(assignment_id: str, rep_id: OwnAssignment, service: AssignmentsService) -> AssignmentView:
    """Accept an assignment of yours. Accepting again answers 200 and emits nothing."""
    return await service.accept(assignment_id, rep_id)


@router.post(
    "/assignments/{assignment_id}/reject",
    responses=problem_responses({**DECIDE, 422: "Unknown reason, ``other`` without a note, or a bad body"}),
)
async def reject(
    assignment_id: str, rep_id: OwnAssignment, body: Rejection, service: AssignmentsService
) -> AssignmentView:
    """Reject an assignment of yours with a reason code; ``wrong_territory`` routes the lead again."""
    return await service.reject(assignment_id, rep_id, body.reason, body.note)


@router.post(
    "/assignments/{assignment_id}/qualify",
    responses=problem_responses(
        {
            **DECIDE,
            409: "Not accepted (pending, rejected or reassigned), or qualified otherwise before",
            422: "``disqualified`` without a configured reason, ``other`` without a note, a reason for"
            " ``sql``, or a bad body",
        }
    ),
)
async def qualify(
    assignment_id: str, rep_id: OwnAssignment, body: QualifyRequest, service: AssignmentsService
) -> AssignmentView:
    """Say what an accepted lead of yours became: ``sql``, or ``disqualified`` with a reason code.
    The same call again answers 200 and emits nothing; a different one answers 409."""
    return await service.qualify(assignment_id, rep_id, body.qualification())


@router.get(
    "/assignments/{assignment_id}",
    responses=problem_responses({**UNAUTHENTICATED, 403: "Not your assignment", 404: "No such assignment"}),
)
async def get_assignment(
    assignment_id: str, caller: CurrentCaller, service: AssignmentsService
) -> AssignmentView:
    """An assignment, its state and explanation: for the assigned rep and admins."""
    return await service.get(assignment_id, None if caller.is_admin else caller.rep_id)


@router.get(
    "/reps/me/assignments",
    responses=problem_responses(
        {**UNAUTHENTICATED, 403: "An admin token: this is for reps", 422: "An unknown status or a bad limit"}
    ),
)
async def my_assignments(
    rep_id: CurrentRep,
    service: AssignmentsService,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AssignmentView]:
    """The calling rep's assignments, newest first, optionally of one status."""
    return await service.of_rep(rep_id, status, limit)
