"""The admin token: every report needs it (``Authorization: Bearer <HANDOFF_ADMIN_TOKEN>``)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from handoff_shared.http import Problem

bearer = HTTPBearer(auto_error=False, description="The admin token")


class NotAuthenticated(Problem):
    status = 401
    title = "Unauthorized"


async def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """401 without the admin token (the feedback service knows no other token)."""
    if credentials is None:
        raise NotAuthenticated("the admin token is required (Authorization: Bearer ...)")
    admin = request.app.state.settings.admin_token.get_secret_value()
    if not admin or not hmac.compare_digest(credentials.credentials.encode(), admin.encode()):
        raise NotAuthenticated("that is not the admin token")


Admin = Depends(require_admin)
