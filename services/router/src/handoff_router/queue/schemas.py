"""The unassigned queue as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
