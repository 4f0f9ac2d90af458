"""``GET /v1/sla/overdue`` and ``GET /v1/sla/timers/{assignment_id}`` (admin token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from handoff_shared.http import problem_responses

from handoff_sla_monitor.timers.errors import NotAdmin
from handoff_sla_monitor.timers.reports import TimerReports
from handoff_sla_monitor.timers.schemas import OverdueReport, TimerView

bearer = HTTPBearer(auto_error=False, description="The admin token")
PROBLEMS = problem_responses({401: "No or wrong admin token"})


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    expected = request.app.state.settings.admin_token.get_secret_value()
    given = credentials.credentials if credentials is not None else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAdmin("the admin bearer token is required")


def get_reports(request: Request) -> TimerReports:
    reports: TimerReports = request.app.state.reports
    return reports


Reports = Annotated[TimerReports, Depends(get_reports)]
router = APIRouter(prefix="/v1/sla", tags=["sla"], dependencies=[Depends(require_admin)], responses=PROBLEMS)


@router.get("/overdue", response_model=OverdueReport)
async def overdue(reports: Reports, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> OverdueReport:
    """Undecided assignments past their deadline now, by team and rep, oldest first."""
    return await reports.overdue(limit)


@router.get(
    "/timers/{assignment_id}", response_model=TimerView, responses=problem_responses({404: "No timer"})
)
async def timer(assignment_id: str, reports: Reports) -> TimerView:
    """An assignment's deadline, the steps fired and those still due."""
    return await reports.timer(assignment_id)
