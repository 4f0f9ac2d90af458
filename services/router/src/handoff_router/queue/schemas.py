"""The unassigned queue as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Release(BaseModel):
    """An admin sends a parked lead back to routing."""

    include_previous_reps: bool = Field(
        default=False,
        description="Let routing pick reps who already had the lead (by default they stay excluded)",
    )
    note: str | None = Field(default=None, max_length=2000, description="Why, shown in the explanation")


class QueuedLead(BaseModel):
    """A lead nobody can take now, since when, and why (the explanation of the last try)."""

    lead_id: str
    queued_at: datetime
    attempt: int
    rule_id: str
    explanation: dict[str, Any]


class QueueOut(BaseModel):
    total: int
    items: list[QueuedLead]
