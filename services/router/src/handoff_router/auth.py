"""Who is calling: the bearer token names a rep or the admin. FastAPI dependencies, as
``Annotated`` aliases: ``CurrentCaller``, ``CurrentRep``, ``Admin``.

Authentication is HTTP's business (401 with ``WWW-Authenticate``, 403 for the wrong kind of
caller); which assignment or rep a caller may touch is the features' business.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from handoff_router.reps.service import Reps

bearer = HTTPBearer(auto_error=False, description="A rep's token, or the admin token")


@dataclass(frozen=True)
class Caller:
    """Who is calling: a rep (``rep_id``) or an admin."""

    rep_id: str | None = None
    is_admin: bool = False


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller named by the bearer token; 401 when there is none or it is unknown."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    reps: Reps = request.app.state.reps
    token = credentials.credentials
    admin = reps.context.settings.admin_token.get_secret_value()
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Caller(is_admin=True)
    rep_id = await reps.authenticate(token)
    if rep_id is None:
        raise _unauthorized("unknown or revoked token")
    return Caller(rep_id=rep_id)


async def current_rep(caller: Annotated[Caller, Depends(current_caller)]) -> str:
    """The calling rep's id; 403 for an admin token, which decides nothing itself."""
    if caller.rep_id is None:
        raise HTTPException(status_code=403, detail="only a rep can do this, with their own token")
    return caller.rep_id


async def require_admin(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """403 unless the admin token was given."""
    if not caller.is_admin:
        raise HTTPException(status_code=403, detail="the admin token is required")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentRep = Annotated[str, Depends(current_rep)]
Admin = Annotated[Caller, Depends(require_admin)]
