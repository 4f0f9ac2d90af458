"""The assignment API's bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row

Status = Literal["pending", "accepted", "rejected", "reassigned"]


class AssignmentView(BaseModel):
    """An assignment, its state and the explanation of how it was made."""

    assignment_id: str
    lead_id: str
    rep_id: str
    team_id: str
    rule_id: str
    attempt: int
    previous_rep_id: str | None
    status: str
    config_version: int | None
    assigned_at: datetime
    sla_due_at: datetime | None
    decided_at: datetime | None
    reason: str | None
    note: str | None
    explanation: dict[str, Any]
    lead: dict[str, Any]

    @classmethod
    def of(cls, row: Row[Any]) -> AssignmentView:
        return cls.model_validate(row._mapping, from_attributes=False)


class Rejection(BaseModel):
    """Why a rep rejects a lead: one of the configured reason codes; ``other`` needs a note."""

    reason: str = Field(min_length=1, max_length=100, examples=["wrong_persona"])
    note: str | None = Field(default=None, max_length=2000)
