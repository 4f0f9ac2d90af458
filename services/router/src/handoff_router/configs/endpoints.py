"""The routing-config API (CONTRACT §6): put and read versions, preview a lead, simulate a file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response
from handoff_shared.edge import body_limit
from handoff_shared.http import problem_responses

from handoff_router.auth import Admin
from handoff_router.configs.schemas import ConfigVersionOut, PreviewOut, SimulationOut
from handoff_router.configs.service import RoutingConfigs

router = APIRouter(prefix="/v1", tags=["routing"])
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
ADMIN_ONLY = {401: "No token, or an unknown one", 403: "Not the admin token"}


def get_configs(request: Request) -> RoutingConfigs:
    configs: RoutingConfigs = request.app.state.configs
    return configs


Configs = Annotated[RoutingConfigs, Depends(get_configs)]


@router.put(
    "/routing-config",
    responses=problem_responses(
        {**ADMIN_ONLY, 422: "Invalid (every problem listed with its path), or not UTF-8 text"}
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in ("application/yaml", "application/json")},
        }
    },
)
async def put_config(request: Request, _: Admin, configs: Configs) -> ConfigVersionOut:
    """Replace the active routing configuration with a new version (YAML or JSON)."""
    return ConfigVersionOut.of(await configs.put(await request.body()))


@router.get(
    "/routing-config",
    response_model=ConfigVersionOut,
    responses={
        200: {"content": {"application/yaml": {"schema": {"type": "string"}}}},
        **problem_responses({**ADMIN_ONLY, 404: "No configuration has been put yet"}),
    },
)
async def get_config(request: Request, _: Admin, configs: Configs) -> Response:
    """The active version: JSON by default, its YAML source with ``Accept: application/yaml``."""
    version = await configs.active()
    if any(kind in request.headers.get("accept", "") for kind in YAML_TYPES):
        return PlainTextResponse(
            version.source, media_type="application/yaml", headers={"X-Config-Version": str(version.version)}
        )
    return Response(ConfigVersionOut.of(version).model_dump_json(), media_type="application/json")


@router.post(
    "/route/preview",
    responses=problem_responses(
        {**ADMIN_ONLY, 409: "No configuration has been put yet", 422: "Not valid MQL data"}
    ),
)
async def preview(lead: Annotated[dict[str, Any], Body()], _: Admin, configs: Configs) -> PreviewOut:
    """Which rule, team and rep would take this MQL now, and why. Nothing is assigned."""
    answer = await configs.preview(lead)
    decision = answer.decision
    return PreviewOut.model_validate(
        {
            "rep_id": decision.rep_id,
            "team_id": decision.team_id,
            "rule_id": decision.rule_id,
            "queued": decision.rep_id is None,
            "sla_due_at": decision.sla_due_at,
            "config_version": answer.version,
            "explanation": decision.explanation.to_dict(),
        }
    )


@router.post(
    "/route/simulate",
    responses=problem_responses(
        {
            **ADMIN_ONLY,
            409: "No active configuration and no candidate",
            413: "The files are larger than 50 MB together",
            422: "A bad lead file or candidate config, or not UTF-8 text",
        }
    ),
    openapi_extra=body_limit(50 * 1024 * 1024),
)
async def simulate(
    _: Admin,
    configs: Configs,
    leads: Annotated[UploadFile, File(description="Past leads: JSON Lines or CSV with dotted columns")],
    config: Annotated[UploadFile | None, File(description="Optional candidate config (YAML or JSON)")] = None,
) -> SimulationOut:
    """How the active config, and a candidate one, would spread a file of leads over teams and reps."""
    candidate = await config.read() if config is not None else None
    return SimulationOut.model_validate(await configs.simulate(await leads.read(), candidate))
