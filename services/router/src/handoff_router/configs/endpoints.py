"""Routing configuration API (CONTRACT §6): versions, preview, simulation, the unassigned queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from handoff_shared import events
from handoff_shared.http import problem_response
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from handoff_router.configs.lead_files import LeadFileInvalid, read_leads
from handoff_router.configs.service import RoutingConfigs
from handoff_router.deps import Admin, AssignmentsService
from handoff_router.routing.config import ConfigInvalid, parse_config
from handoff_router.tables import unassigned

router = APIRouter(prefix="/v1", tags=["routing"])
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def get_configs(request: Request) -> RoutingConfigs:
    configs: RoutingConfigs = request.app.state.configs
    return configs


ConfigsService = Annotated[RoutingConfigs, Depends(get_configs)]


class ConfigVersionOut(BaseModel):
    version: int
    sha256: str
    created_at: datetime
    config: dict[str, Any]


def invalid_config(error: ConfigInvalid) -> JSONResponse:
    problems = [{"path": problem.path, "message": problem.message} for problem in error.problems]
    return problem_response(
        422,
        "Invalid routing configuration",
        f"{len(problems)} problem(s); the previous version stays active",
        problems=problems,
    )


@router.put(
    "/routing-config",
    responses={422: {"description": "Invalid; every problem listed with its path"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in ("application/yaml", "application/json")},
        }
    },
)
async def put_config(request: Request, _: Admin, configs: ConfigsService) -> Response:
    """Replace the active routing configuration with a new version (YAML or JSON)."""
    raw = await request.body()
    try:
        source = raw.decode()
    except UnicodeDecodeError:
        return problem_response(422, "Invalid routing configuration", "the body is not UTF-8 text")
    try:
        version = await configs.put(source)
    except ConfigInvalid as error:
        return invalid_config(error)
    return JSONResponse(_version_out(version).model_dump(mode="json"), status_code=200)


@router.get("/routing-config", responses={404: {"description": "No configuration yet"}})
async def get_config(request: Request, _: Admin, configs: ConfigsService) -> Response:
    """The active version: JSON by default, its YAML source with ``Accept: application/yaml``."""
    version = await configs.active()
    if version is None:
        return problem_response(404, "Not found", "no routing configuration has been put yet")
    if any(kind in request.headers.get("accept", "") for kind in YAML_TYPES):
        return PlainTextResponse(
            version.source, media_type="application/yaml", headers={"X-Config-Version": str(version.version)}
        )
    return JSONResponse(_version_out(version).model_dump(mode="json"))


@router.post("/route/preview", responses={409: {"description": "No configuration yet"}})
async def preview(lead: Annotated[dict[str, Any], Body()], _: Admin, configs: ConfigsService) -> Response:
    """Which rule, team and rep would take this MQL now, and why. Nothing is assigned."""
    try:
        data = events.MqlCreated.model_validate(lead).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        return _invalid_lead(error)
    decision, version = await configs.preview(data)
    return JSONResponse(
        {
            "rep_id": decision.rep_id,
            "team_id": decision.team_id,
            "rule_id": decision.rule_id,
            "queued": decision.rep_id is None,
            "sla_due_at": decision.sla_due_at.isoformat() if decision.sla_due_at else None,
            "config_version": version,
            "explanation": decision.explanation.to_dict(),
        }
    )


@router.post("/route/simulate", responses={422: {"description": "Bad lead file or candidate config"}})
async def simulate_file(
    _: Admin,
    configs: ConfigsService,
    leads: Annotated[UploadFile, File(description="Past leads: JSON Lines or CSV with dotted columns")],
    config: Annotated[UploadFile | None, File(description="Optional candidate config (YAML or JSON)")] = None,
) -> Response:
    """How the active config, and a candidate one, would spread a file of leads over teams and reps."""
    try:
        lead_list = read_leads((await leads.read()).decode())
        candidate = parse_config((await config.read()).decode()) if config is not None else None
    except ConfigInvalid as error:
        return invalid_config(error)
    except LeadFileInvalid as error:
        return problem_response(422, "Invalid lead file", str(error), problems=error.problems)
    except UnicodeDecodeError:
        return problem_response(422, "Invalid upload", "files must be UTF-8 text")
    return JSONResponse(await configs.simulate(lead_list, candidate))


@router.get("/queue")
async def queue(_: Admin, service: AssignmentsService, limit: int = 100) -> dict[str, Any]:
    """Leads no one can take right now, oldest first, with why."""
    async with service.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(unassigned))
        rows = await session.execute(
            select(unassigned).order_by(unassigned.c.queued_at).limit(max(1, min(limit, 1000)))
        )
        items = [
            {
                "lead_id": row.lead_id,
                "queued_at": row.queued_at.isoformat(),
                "attempt": row.attempt,
                "rule_id": row.rule_id,
                "explanation": row.explanation,
            }
            for row in rows
        ]
    return {"total": total or 0, "items": items}


def _version_out(version: Any) -> ConfigVersionOut:
    return ConfigVersionOut(
        version=version.version,
        sha256=version.sha256,
        created_at=version.created_at,
        config=version.config.model_dump(mode="json", exclude_none=True),
    )


def _invalid_lead(error: ValidationError) -> JSONResponse:
    errors = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
    return problem_response(422, "Invalid lead", detail, errors=errors)
