"""Who is calling: the bearer token names a rep or the admin. FastAPI dependencies, as
``Annotated`` aliases: ``CurrentCaller``, ``CurrentRep``, ``Admin``.

Authentication refuses with domain errors (``NotAuthenticated`` 401 with ``WWW-Authenticate``,
``AdminOnly`` and ``RepOnly`` 403 for the wrong kind of caller), mapped in ``errors.py``; which
assignment or rep a caller may touch is the features' business.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from handoff_shared.http import DomainError
from pydantic import SecretStr

bearer = HTTPBearer(auto_error=False, description="A rep's token, or the admin token")


class NotAuthenticated(DomainError):
    """No bearer token, or one that names nobody (unknown or revoked)."""

    headers = {"WWW-Authenticate": "Bearer"}


class AdminOnly(DomainError):
    """A rep's token where the admin token is required."""


class RepOnly(DomainError):
    """The admin token where a rep decides (with their own token)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: a rep (``rep_id``) or an admin."""

    rep_id: str | None = None
    is_admin: bool = False


@dataclass(frozen=True)
class Authentication:
    """Tells the caller from a bearer token: the admin token, or a rep's (``rep_of_token``: the
    reps feature keeps those; the composition root hands it in)."""

    admin_token: SecretStr
    rep_of_token: Callable[[str], Awaitable[str | None]]

    async def caller(self, token: str) -> Caller:
        """The caller ``token`` names; NotAuthenticated when it names nobody."""
        admin = self.admin_token.get_secret_value()
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            return Caller(is_admin=True)
        rep_id = await self.rep_of_token(token)
        if rep_id is None:
            raise NotAuthenticated("unknown or revoked token")
        return Caller(rep_id=rep_id)


async def edge_caller(app: Any, token: str) -> Caller | None:
    """Whom ``token`` names, for the HTTP edge (``handoff_shared.edge``): it answers 401 before
    reading any body when this is None, and keeps the caller for ``current_caller``."""
    authentication: Authentication = app.state.authentication
    try:
        return await authentication.caller(token)
    except NotAuthenticated:
        return None


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller named by the bearer token; 401 when there is none or it is unknown."""
    known = getattr(request.state, "caller", None)
    if isinstance(known, Caller):  # the edge has checked this request's token already
        return known
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise NotAuthenticated("a bearer token is required")
    authentication: Authentication = request.app.state.authentication
    return await authentication.caller(credentials.credentials)


async def current_rep(caller: Annotated[Caller, Depends(current_caller)]) -> str:
    """The calling rep's id; 403 for an admin token, which decides nothing itself."""
    if caller.rep_id is None:
        raise RepOnly("only a rep can do this, with their own token")
    return caller.rep_id


async def require_admin(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """403 unless the admin token was given."""
    if not caller.is_admin:
        raise AdminOnly("the admin token is required")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentRep = Annotated[str, Depends(current_rep)]
Admin = Annotated[Caller, Depends(require_admin)]
