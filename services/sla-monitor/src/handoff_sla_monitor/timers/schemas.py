"""What the timers API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class StepView(BaseModel):
    """One ladder step of a timer: when it fires, and whether it has."""

    step: int
    level: Literal["remind", "escalate", "reassign"]
    percent: float
    fire_at: datetime
    state: Literal["fired", "due", "pending", "cancelled"]  # due: its time has come, firing now
    fired_at: datetime | None = None


class TimerView(BaseModel):
    """An assignment's SLA timer: deadline, steps fired and to come."""

    assignment_id: str
    lead_id: str
    rep_id: str
    team_id: str | None
    manager_id: str | None
    attempt: int | None
    status: Literal["open", "accepted", "rejected", "superseded", "reassigned"]
    assigned_at: datetime | None
    sla_due_at: datetime | None
    overdue_seconds: float | None
    next_fire_at: datetime | None
    closed_at: datetime | None
    steps: list[StepView]


class OverdueTimer(BaseModel):
    assignment_id: str
    lead_id: str
    rep_id: str
    team_id: str | None
    manager_id: str | None
    attempt: int | None
    sla_due_at: datetime
    overdue_seconds: float
    steps_fired: int


class OverdueGroup(BaseModel):
    team_id: str | None
    rep_id: str
    overdue: int
    oldest_due_at: datetime


class OverdueTeam(BaseModel):
    team_id: str | None
    overdue: int
    oldest_due_at: datetime


class OverdueReport(BaseModel):
    """Undecided assignments past their deadline now: totals by team and rep, and the oldest first."""

    as_of: datetime
    total: int
    by_team: list[OverdueTeam]
    by_rep: list[OverdueGroup]
    timers: list[OverdueTimer]
