"""The account book API's bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RefusedRow(BaseModel):
    line: int
    problems: list[str]


class OwnerNotRep(BaseModel):
    line: int
    account_id: str
    owner: str


class ImportReportOut(BaseModel):
    """What an import did: rows read and written, rows refused, owners that are not reps."""

    mode: str  # replace (PUT) | upsert (PATCH)
    rows: int
    accepted: int
    refused: list[RefusedRow]  # at most 1,000 listed; refused_count is the whole count
    refused_count: int
    owners_not_reps: list[OwnerNotRep]
    owners_not_reps_count: int
    version: int  # the book's version after the import


class AccountOut(BaseModel):
    """One account of the book."""

    id: str
    name: str
    domains: list[str]
    owner: str | None
    status: str | None
    tier: str | None
    attributes: dict[str, Any]
    updated_at: str
