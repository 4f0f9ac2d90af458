"""The intake API (CONTRACT §10): sources' deliveries, their secrets, admins' MQLs and CSV imports.

``POST /v1/intake/{source_id}`` carries no bearer token: the source's signature or key
authenticates it. What its headers can prove is checked before the body is read; a body over
the limit is refused 413 from its Content-Length, or as soon as reading passes the limit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from handoff_shared.edge import body_limit
from handoff_shared.http import problem_responses
from pydantic import BaseModel, Field, SecretStr
from starlette.datastructures import UploadFile
from starlette.types import Message

from handoff_router.auth import Admin
from handoff_router.intake.admin_mqls import ADMIN_SOURCE, read_mqls
from handoff_router.intake.errors import BodyTooLarge, InvalidImport
from handoff_router.intake.imports import import_csv
from handoff_router.intake.service import Intake

router = APIRouter(prefix="/v1", tags=["intake"])
ADMIN_ONLY = {401: "No token, or an unknown one", 403: "Not the admin token"}
MAPPING_LIMIT = 1024 * 1024


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


IntakeService = Annotated[Intake, Depends(get_intake)]


class IntakeAnswer(BaseModel):
    """What a delivery became: events emitted (acknowledged by Kafka), filtered, dead-lettered."""

    accepted: int
    filtered: int
    dead_lettered: int
    event_ids: list[str]


class SecretIn(BaseModel):
    secret: str = Field(min_length=8, max_length=1000, description="The secret the other system chose")


class SecretOut(BaseModel):
    secret: str = Field(description="Answered once; never shown again")


class RefusedRow(BaseModel):
    line: int
    problems: list[str]


class ImportAnswer(BaseModel):
    rows: int
    accepted: int
    duplicates: int
    refused: list[RefusedRow]
    refused_total: int = Field(description="Refused rows; the first 10,000 are listed in refused")


@router.post(
    "/intake/{source_id}",
    status_code=202,
    response_model=IntakeAnswer,
    responses=problem_responses(
        {
            401: "Missing or bad signature or key, a stale timestamp, or no secret set for the source",
            404: "No such source in the active routing config",
            413: "Body over the limit (HANDOFF_INTAKE_MAX_BODY)",
            503: "Not connected to Kafka yet: try again",
        }
    ),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
        **body_limit(None),  # HANDOFF_INTAKE_MAX_BODY, read_capped
    },
)
async def deliver(source_id: str, request: Request, intake: IntakeService) -> JSONResponse:
    """A marketing tool's delivery: every record mapped, normalised and emitted as ``mql.created``
    (or dead-lettered with the delivery's bytes); answered once Kafka has acknowledged them."""
    headers = _headers(request)
    admitted = await intake.admit(source_id, headers)
    body = await read_capped(request, intake.context.settings.intake_max_body)
    intake.verify(admitted, headers, body, method=request.method, uri=_full_uri(request, intake))
    report = await intake.receive(admitted, body)
    return JSONResponse(report.to_dict(), status_code=202)


@router.put(
    "/intake/sources/{source_id}/secret",
    status_code=204,
    responses=problem_responses({**ADMIN_ONLY, 404: "No such source in the active routing config"}),
)
async def put_secret(source_id: str, body: SecretIn, _: Admin, intake: IntakeService) -> None:
    """Set the secret the other system chose (a HubSpot app's client secret); never shown again."""
    await intake.set_secret(source_id, SecretStr(body.secret))


@router.post(
    "/intake/sources/{source_id}/secret",
    responses=problem_responses({**ADMIN_ONLY, 404: "No such source in the active routing config"}),
)
async def issue_secret(source_id: str, _: Admin, intake: IntakeService) -> SecretOut:
    """Issue a new secret for the source (``whsec_...``), answered this once."""
    return SecretOut(secret=(await intake.issue_secret(source_id)).get_secret_value())


@router.post(
    "/mqls",
    status_code=202,
    response_model=IntakeAnswer,
    responses=problem_responses(
        {
            **ADMIN_ONLY,
            413: "Body over the limit",
            422: "Never for the data: MQLs that are not valid are dead-lettered and counted (202)",
            503: "Not connected to Kafka yet",
        }
    ),
    openapi_extra={
        **body_limit(None),  # the endpoint caps its body by a setting
        "requestBody": {
            "required": True,
            "content": {
                kind: {"schema": {}}
                for kind in ("application/json", "application/x-ndjson", "application/cloudevents+json")
            },
        },
    },
)
async def post_mqls(request: Request, _: Admin, intake: IntakeService) -> JSONResponse:
    """MQL data as a JSON object, array or NDJSON, or a CloudEvent (structured or binary)."""
    body = await read_capped(request, intake.context.settings.intake_max_body)
    report = await intake.emit(read_mqls(body, _headers(request)), body, ADMIN_SOURCE, key=ADMIN_SOURCE)
    return JSONResponse(report.to_dict(), status_code=202)


@router.post(
    "/mqls/import",
    response_model=ImportAnswer,
    responses=problem_responses(
        {**ADMIN_ONLY, 413: "File over the limit", 422: "Wrong header or delimiter, or a bad mapping"}
    ),
    openapi_extra={
        **body_limit(None),  # the endpoint caps its body by a setting
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "mapping": {"type": "string", "description": "YAML of field: column"},
                        },
                    }
                }
            },
        },
    },
)
async def import_mqls(request: Request, _: Admin, intake: IntakeService, dry_run: bool = False) -> Any:
    """A CSV file of MQLs (a header row; a mapping of field: column, or a HubSpot or Salesforce
    list export): good rows emitted, refused rows listed with their lines and problems."""
    capped = Request(request.scope, _capped_receive(request, intake.context.settings.intake_import_max_bytes))
    async with capped.form(max_files=1, max_fields=2, max_part_size=MAPPING_LIMIT) as form:
        upload, mapping = form.get("file"), form.get("mapping")
        if not isinstance(upload, UploadFile):
            raise InvalidImport("a multipart form with the CSV as its 'file' part was expected")
        if isinstance(mapping, UploadFile):
            mapping = (await mapping.read(MAPPING_LIMIT)).decode("utf-8", "replace")
        report = await import_csv(intake, upload.file, mapping, dry_run=dry_run)
    return report.to_dict()


def _headers(request: Request) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def _full_uri(request: Request, intake: Intake) -> str:
    """The URI the tool posted to: the public base URL behind a proxy, else the request's own."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    path = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    base = intake.context.settings.intake_public_url.rstrip("/")
    if not base:
        base = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return base + path


def _check_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(f"the body is {length} bytes; the limit is {limit}", limit=limit)


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused 413 from its Content-Length or once reading passes ``limit``."""
    _check_length(request, limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes", limit=limit)
    return bytes(body)


def _capped_receive(request: Request, limit: int) -> Any:
    _check_length(request, limit)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLarge(f"the file is over the limit of {limit} bytes", limit=limit)
        return message

    return receive
