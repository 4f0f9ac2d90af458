"""Rep administration: tokens, availability, load."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, BaseModel

from handoff_router.deps import Admin, CurrentCaller
from handoff_router.reps.service import Reps

router = APIRouter(prefix="/v1/reps", tags=["reps"])


def get_reps(request: Request) -> Reps:
    reps: Reps = request.app.state.reps
    return reps


RepsService = Annotated[Reps, Depends(get_reps)]


class Token(BaseModel):
    token: str


class AvailabilityIn(BaseModel):
    """``until``: when the rep is back (unavailable) or away again (available); RFC 3339 with offset."""

    available: bool
    until: AwareDatetime | None = None


class AvailabilityOut(AvailabilityIn):
    rep_id: str


@router.post("/{rep_id}/tokens", status_code=201, responses={404: {"description": "Unknown rep"}})
async def issue_token(rep_id: str, _: Admin, reps: RepsService) -> Token:
    """Issue a token for a rep (admin). It is answered once and stored only as a digest."""
    return Token(token=await reps.issue_token(rep_id))


@router.put("/{rep_id}/availability", responses={403: {"description": "Not that rep, nor an admin"}})
async def set_availability(
    rep_id: str, body: AvailabilityIn, caller: CurrentCaller, reps: RepsService
) -> AvailabilityOut:
    """Set a rep's availability (admin or that rep)."""
    if not caller.is_admin and caller.rep_id != rep_id:
        raise HTTPException(status_code=403, detail="a rep may set only their own availability")
    until: datetime | None = body.until
    await reps.set_availability(rep_id, body.available, until)
    return AvailabilityOut(rep_id=rep_id, available=body.available, until=until)


@router.get("/load")
async def load(_: Admin, reps: RepsService) -> list[dict[str, Any]]:
    """Every rep's open assignments, today's count, caps and availability (admin)."""
    return await reps.load()
