"""The account book (CONTRACT §11): ``PUT /v1/accounts`` replaces it, ``PATCH`` upserts, one
account by id. Bodies are a JSON array, NDJSON (``application/x-ndjson``) or CSV (``text/csv``);
``preset=salesforce|hubspot`` maps a CRM's company export, ``map=field=column`` any column."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from handoff_shared.edge import body_limit
from handoff_shared.http import problem_responses

from handoff_router.accounts.book_files import Format
from handoff_router.accounts.errors import BookUnreadable
from handoff_router.accounts.schemas import AccountOut, ImportReportOut
from handoff_router.accounts.service import MAX_IMPORT_BYTES, Accounts
from handoff_router.auth import Admin

router = APIRouter(prefix="/v1", tags=["accounts"])
_RESPONSES = problem_responses(
    {
        401: "No token, or an unknown one",
        403: "Not the admin token",
        413: "A book over the import size limit",
        422: "A file that cannot be read, or duplicate ids or domains claimed twice (every conflict listed)",
    }
)


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsService = Annotated[Accounts, Depends(get_accounts)]
Preset = Annotated[str | None, Query(description="salesforce | hubspot: the CRM's export columns")]
Mapping_ = Annotated[list[str] | None, Query(alias="map", description="field=column, e.g. owner=Sales Rep")]


@router.put("/accounts", responses=_RESPONSES, openapi_extra=body_limit(MAX_IMPORT_BYTES))
async def replace_book(
    _: Admin, request: Request, accounts: AccountsService, preset: Preset = None, map: Mapping_ = None
) -> ImportReportOut:
    """Replace the book: valid rows become the book, invalid ones are listed with their line."""
    report = await accounts.load(
        request.stream(), _format(request), replace=True, preset=preset, mapping=_mapping(map)
    )
    return ImportReportOut.model_validate(report.to_dict())


@router.patch("/accounts", responses=_RESPONSES, openapi_extra=body_limit(MAX_IMPORT_BYTES))
async def upsert_accounts(
    _: Admin, request: Request, accounts: AccountsService, preset: Preset = None, map: Mapping_ = None
) -> ImportReportOut:
    """Add or replace the accounts given; the rest of the book stays."""
    report = await accounts.load(
        request.stream(), _format(request), replace=False, preset=preset, mapping=_mapping(map)
    )
    return ImportReportOut.model_validate(report.to_dict())


@router.get(
    "/accounts/{account_id}",
    responses=problem_responses(
        {401: "No token, or an unknown one", 403: "Not the admin token", 404: "No such account"}
    ),
)
async def get_account(_: Admin, account_id: str, accounts: AccountsService) -> AccountOut:
    """One account of the book."""
    return AccountOut.model_validate(await accounts.get(account_id))


def _format(request: Request) -> Format:
    kind = request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return "csv"
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"):
        return "ndjson"
    if kind in ("application/json", ""):
        return "json"
    raise BookUnreadable(
        f"unsupported content type {kind!r}: send application/json, application/x-ndjson or text/csv"
    )


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        target, equals, column = pair.partition("=")
        if not equals or not target.strip() or not column.strip():
            raise BookUnreadable(f"map={pair!r}: write field=column, e.g. owner=Sales Rep")
        mapping[target.strip()] = column.strip()
    return mapping
