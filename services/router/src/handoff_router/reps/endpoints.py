"""Rep administration (CONTRACT §6): tokens, availability, load."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from handoff_shared.http import problem_responses

from handoff_router.auth import Admin, CurrentCaller, CurrentRep
from handoff_router.reps.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    MeOut,
    OffboardIn,
    OffboardOut,
    RepLoadOut,
    Token,
    TokensRevoked,
)
from handoff_router.reps.service import Reps

router = APIRouter(prefix="/v1/reps", tags=["reps"])
UNKNOWN_REP = {404: "No such rep in the active config", 409: "No configuration has been put yet"}


def get_reps(request: Request) -> Reps:
    reps: Reps = request.app.state.reps
    return reps


RepsService = Annotated[Reps, Depends(get_reps)]


async def rep_in_reach(rep_id: str, caller: CurrentCaller) -> str:
    """The rep of the path, when the caller may act for them: checked before the body is."""
    Reps.check_may_act_for(rep_id, caller.rep_id, caller.is_admin)
    return rep_id


@router.get(
    "/me",
    responses=problem_responses(
        {401: "No token, or an unknown one", 403: "An admin token: this is for reps", **UNKNOWN_REP}
    ),
)
async def me(rep_id: CurrentRep, reps: RepsService) -> MeOut:
    """The calling rep: name, time zone, availability and the reason codes (the inbox's header)."""
    return MeOut.model_validate(await reps.me(rep_id))


@router.post(
    "/{rep_id}/tokens",
    status_code=201,
    responses=problem_responses(
        {401: "No token, or an unknown one", 403: "Not the admin token", **UNKNOWN_REP}
    ),
)
async def issue_token(rep_id: str, _: Admin, reps: RepsService) -> Token:
    """Issue a token for a rep (admin). It is answered once and stored only as a digest."""
    return Token(token=await reps.issue_token(rep_id))


@router.delete(
    "/{rep_id}/tokens",
    responses=problem_responses({401: "No token, or an unknown one", 403: "Not the admin token"}),
)
async def revoke_tokens(rep_id: str, _: Admin, reps: RepsService) -> TokensRevoked:
    """Revoke every token of a rep (admin), also of a rep no longer in the config."""
    return TokensRevoked(rep_id=rep_id, tokens_revoked=await reps.revoke_tokens(rep_id))


@router.put(
    "/{rep_id}/availability",
    responses=problem_responses(
        {
            401: "No token, or an unknown one",
            403: "Neither that rep nor an admin",
            **UNKNOWN_REP,
            422: "Not a valid availability (``until`` needs an offset)",
        }
    ),
)
async def set_availability(
    rep_id: Annotated[str, Depends(rep_in_reach)], body: AvailabilityIn, reps: RepsService
) -> AvailabilityOut:
    """Set a rep's availability (admin or that rep)."""
    await reps.set_availability(rep_id, body.available, body.until)
    return AvailabilityOut(rep_id=rep_id, available=body.available, until=body.until)


@router.post(
    "/{rep_id}/offboard",
    responses=problem_responses(
        {
            401: "No token, or an unknown one",
            403: "Not the admin token",
            **UNKNOWN_REP,
            422: "Not a valid successor",
        }
    ),
)
async def offboard(rep_id: str, _: Admin, body: OffboardIn, reps: RepsService) -> OffboardOut:
    """Offboard a rep (admin), in one unit of work: inactive, tokens revoked, pending leads routed
    again without them, accounts to ``successor``. Answers what moved."""
    return OffboardOut.model_validate(await reps.offboard(rep_id, body.successor))


@router.get(
    "/load", responses=problem_responses({401: "No token, or an unknown one", 403: "Not the admin token"})
)
async def load(_: Admin, reps: RepsService) -> list[RepLoadOut]:
    """Every rep's open assignments, today's count, caps and availability (admin)."""
    return [RepLoadOut.model_validate(row) for row in await reps.load()]
