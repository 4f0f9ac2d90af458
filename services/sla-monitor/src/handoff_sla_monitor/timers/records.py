"""From events to timer rows, and from fired steps to ``lead.escalated``: plain data, no I/O."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import orjson
from handoff_shared import cloudevents, events
from handoff_shared.business_time import DAYS, BusinessCalendar, BusinessHours
from handoff_shared.cloudevents import STRUCTURED, CloudEvent
from handoff_shared.events import format_rfc3339

from handoff_sla_monitor.ladder import DEFAULT_LADDER, LadderStep, PlannedStep, TimerState, fire, plan
from handoff_sla_monitor.timers.event_views import Assigned

_UTC = ZoneInfo("UTC")
ESCALATION_IDS = uuid.UUID("6f1c1d39-7d1e-4c43-9d0c-5b0e3a6c2f41")
# The outbox headers of a structured-mode event, as OutboxMessage.row writes them.
HEADERS = json.dumps([[name, base64.b64encode(STRUCTURED.encode()).decode()] for name in ("content-type",)])


def calendar_and_ladder(
    assigned: Assigned,
) -> tuple[timedelta, BusinessCalendar, tuple[LadderStep, ...]]:
    """The SLA the assignment was made under, as the event carries it.

    An event from before ``sla`` existed gets a wall-clock SLA from ``assigned_at`` to
    ``sla_due_at`` and the default ladder: its deadline is kept exactly.
    """
    terms = assigned.sla
    if terms is None:
        return assigned.sla_due_at - assigned.assigned_at, BusinessCalendar(_UTC), DEFAULT_LADDER
    hours = None
    if terms.business_hours is not None:
        spec = terms.business_hours
        hours = BusinessHours(
            time.fromisoformat(spec.start),
            time.fromisoformat(spec.end),
            frozenset(DAYS.index(day) for day in spec.days),
        )
    calendar = BusinessCalendar(ZoneInfo(terms.timezone), hours, tuple(terms.holidays))
    ladder = tuple(LadderStep(step.percent, step.action) for step in terms.ladder)
    return timedelta(seconds=terms.accept_within_seconds), calendar, ladder


def timer_row(assigned: Assigned) -> dict[str, Any]:
    """The open timer of a ``lead.assigned``: its steps planned once, on its own calendar."""
    accept_within, calendar, ladder = calendar_and_ladder(assigned)
    steps = plan(assigned.assigned_at, accept_within, calendar, ladder)
    terms = assigned.sla
    return with_fragments(
        {
            "assignment_id": assigned.assignment_id,
            "lead_id": assigned.lead_id,
            "rep_id": assigned.rep_id,
            "team_id": assigned.team_id,
            "manager_id": assigned.manager_id,
            "attempt": assigned.attempt,
            "status": "open",
            "assigned_at": assigned.assigned_at,
            "sla_due_at": assigned.sla_due_at,
            "steps": [step_json(step) for step in steps],
            "next_step": 0,
            "next_fire_at": steps[0].fire_at if steps else None,
            "terms": msgspec.to_builtins(terms) if terms is not None else None,
        }
    )


def with_fragments(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each step's ``lead.escalated`` written ahead, but for the moment it fires.

    ``envelope`` holds the event's id and subject and ``data`` its data fields as JSON, each
    without braces; the scanner adds the time, ``overdue_seconds`` and ``escalated_at`` with
    plain text concatenation (repository.fire_due), the cheapest way to write an event in SQL.
    """
    for step in row["steps"]:
        planned = PlannedStep(
            step["index"], step["level"], step["percent"], datetime.fromisoformat(step["fire_at"])
        )
        data = static_data(SimpleNamespace(**row), planned)
        envelope = {"id": escalation_id(row["assignment_id"], planned.index), "subject": row["lead_id"]}
        step["envelope"] = orjson.dumps(envelope).decode()[1:-1]
        step["data"] = orjson.dumps(data).decode()[1:-1]
    return row


def step_json(step: PlannedStep) -> dict[str, Any]:
    return {
        "index": step.index,
        "level": step.level,
        "percent": step.percent,
        "fire_at": step.fire_at.isoformat(),
    }


def steps_of(steps: list[dict[str, Any]]) -> tuple[PlannedStep, ...]:
    """The planned steps as stored."""
    return tuple(
        PlannedStep(step["index"], step["level"], step["percent"], datetime.fromisoformat(step["fire_at"]))
        for step in steps
    )


def state_of(row: Any) -> TimerState:
    return TimerState(steps_of(row.steps), row.next_step)


def advance(row: Any, now: datetime) -> tuple[tuple[PlannedStep, ...], TimerState, str]:
    """Fire what is due on a claimed timer: the steps, the new state and the timer's status."""
    fired, state = fire(state_of(row), now)
    reassigned = bool(fired) and fired[-1].level == "reassign"
    return fired, state, "reassigned" if reassigned else "open"


def escalation_id(assignment_id: str, step: int) -> str:
    """The same id for the same step, always: consumers dedupe even a step published twice.

    Version 3 (MD5), not 5: the scanner computes it in SQL, and PostgreSQL has MD5 built in.
    """
    return str(uuid.uuid3(ESCALATION_IDS, f"{assignment_id}/{step}"))


def static_data(row: Any, step: PlannedStep) -> dict[str, Any]:
    """The fields of a step's ``lead.escalated`` known when the timer opens (None: left out)."""
    terms = row.terms or {}
    data = {
        "assignment_id": row.assignment_id,
        "lead_id": row.lead_id,
        "rep_id": row.rep_id,
        "level": step.level,
        "sla_due_at": format_rfc3339(row.sla_due_at),
        "manager_id": row.manager_id,
        # Extensions: which step, when it was planned, and what the router needs to act.
        "team_id": row.team_id,
        "attempt": row.attempt,
        "step": step.index,
        "planned_at": format_rfc3339(step.fire_at),
        "max_reassignments": terms.get("max_reassignments"),
        "pause_after_expired": terms.get("pause_after_expired"),
    }
    limit = data["max_reassignments"]
    if step.level == "reassign" and isinstance(limit, int) and row.attempt is not None:
        # 0: the router parks the lead instead, and tells the manager.
        data["reassignments_left"] = max(0, limit - (row.attempt - 1))
    return {name: value for name, value in data.items() if value is not None}


def escalation_event(row: Any, step: PlannedStep, now: datetime, source: str) -> CloudEvent:
    """``lead.escalated`` for one step of one timer.

    The reference of what the scanner writes: the scanner builds the same event in SQL
    (repository.fire_due), and tests/integration/test_sla_scanner_sql.py holds the two equal.
    """
    data = static_data(row, step)
    data |= {
        "overdue_seconds": (now - row.sla_due_at).total_seconds(),
        "escalated_at": format_rfc3339(now),
    }
    payload = {name: value for name, value in data.items() if value is not None}
    return cloudevents.new_event(
        events.LEAD_ESCALATED,
        source,
        row.lead_id,
        payload,
        id=escalation_id(row.assignment_id, step.index),
        time=now,
    )
