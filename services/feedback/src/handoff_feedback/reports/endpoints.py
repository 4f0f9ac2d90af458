"""``/v1/reports/*`` (admin token): summary (JSON or CSV), timeseries, rejections, reps, alerts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from handoff_shared.http import problem_responses
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback.admin import Admin
from handoff_feedback.reports import parameters, schemas
from handoff_feedback.reports.service import Reports

GroupBy = Literal["source", "campaign", "source_campaign", "team", "rep", "team_rep", "rule", "all"]
CSV_FIELDS = [
    "segment_key", "window_start", "window_end", "mqls", "assigned", "accepted", "rejected", "expired",
    "decisions", "acceptance_rate", "seconds_to_accept_p50", "seconds_to_accept_p90", "sqls",
    "disqualified", "sal_to_sql_rate",
]  # fmt: skip
From = Annotated[
    str | None,
    Query(alias="from", description="A date (local midnight) or RFC 3339; default 7 days before to"),
]
To = Annotated[str | None, Query(description="A date or RFC 3339, excluded; default the end of today")]


def reports_router(
    reports: Reports, sessions: Callable[[], AsyncSession], clock: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=[Admin])
    zone = reports.settings.zone
    unauthorized = {401: "No token", 403: "Not the admin token"}
    problems = problem_responses({**unauthorized, 422: "A parameter is invalid; the problem names it"})
    csv_body = {"text/csv": {"schema": {"type": "string", "description": "The rows as CSV, a header first"}}}

    @router.get(
        "/summary",
        response_model=schemas.Summary,
        responses={**problems, 200: {"content": csv_body, "description": "JSON, or CSV when asked"}},
    )
    async def summary(
        group_by: GroupBy,
        start: From = None,
        to: To = None,
        accept: Annotated[str, Header()] = "application/json",
    ) -> schemas.Summary | Response:
        """Rows with the fields of ``scoring.feedback_snapshot`` per segment; ``Accept: text/csv`` for CSV."""
        lower, upper = parameters.day_range(start, to, clock(), zone)
        async with sessions() as db:
            result = await reports.summary(db, group_by, lower, upper)
        if "text/csv" in accept:
            return Response(summary_csv(result), media_type="text/csv; charset=utf-8")
        return result

    @router.get("/timeseries", response_model=schemas.Timeseries, responses=problems)
    async def timeseries(
        segment: Annotated[
            str,
            Query(
                description="A segment key: all, source=webinar, source=webinar,campaign=q3, team=na, ..."
                " (values escaped: %2C for ',', %3D for '=', %25 for '%', %7C for '|')"
            ),
        ] = "all",
        source: Annotated[str | None, Query(description="The source, as it is (instead of segment)")] = None,
        campaign: Annotated[str | None, Query(description="The campaign, as it is")] = None,
        team: Annotated[str | None, Query(description="The team id, as it is")] = None,
        rep: Annotated[str | None, Query(description="The rep id, as it is")] = None,
        rule: Annotated[str | None, Query(description="The rule id, as it is")] = None,
        window: Literal["day", "week"] = "day",
        start: From = None,
        to: To = None,
    ) -> schemas.Timeseries:
        """One segment's figures per day or week, and over the whole range. The segment is named
        by its key (``segment``) or by its values (``source``, ``campaign``, ``team``, ``rep``,
        ``rule``: source with campaign, team with rep)."""
        given = {"source": source, "campaign": campaign, "team": team, "rep": rep, "rule": rule}
        dimension, key = parameters.filters(given, segment)
        lower, upper = parameters.day_range(start, to, clock(), zone)
        async with sessions() as db:
            return await reports.timeseries(db, dimension, key, window, lower, upper)

    @router.get("/rejections", response_model=schemas.Rejections, responses=problems)
    async def rejections(group_by: GroupBy = "all", start: From = None, to: To = None) -> schemas.Rejections:
        """The rejection-reason distribution of each segment."""
        lower, upper = parameters.day_range(start, to, clock(), zone)
        async with sessions() as db:
            return await reports.rejections(db, group_by, lower, upper)

    @router.get("/reps", response_model=schemas.Reps, responses=problems)
    async def reps(team: str | None = None, start: From = None, to: To = None) -> schemas.Reps:
        """Each rep against the rest of their team: counts, rates and the quality signals with evidence."""
        lower, upper = parameters.day_range(start, to, clock(), zone)
        async with sessions() as db:
            return await reports.reps(db, lower, upper, team)

    @router.get("/alerts", response_model=schemas.Alerts, responses=problem_responses(unauthorized))
    async def alerts() -> schemas.Alerts:
        """Acceptance alerts firing now."""
        async with sessions() as db:
            return await reports.alerts(db)

    return router


def summary_csv(summary: schemas.Summary) -> str:
    """One line per segment; each rejection reason its own ``rejected:<code>`` column."""
    reasons = sorted({reason for row in summary.rows for reason in row.rejected_by_reason})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_FIELDS, *(f"rejected:{r}" for r in reasons)])
    for row in summary.rows:
        values = row.model_dump(mode="json")
        writer.writerow(
            [
                *("" if values[f] is None else values[f] for f in CSV_FIELDS),
                *(row.rejected_by_reason.get(r, 0) for r in reasons),
            ]
        )
    return out.getvalue()
