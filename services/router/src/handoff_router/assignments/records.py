"""Assignment rows as routing writes them, and the ``lead.assigned`` data they cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from handoff_router.routing.engine import Decision


def new_assignment_id() -> str:
    """A fresh, unguessable assignment id."""
    return str(uuid4())


def assignment_row(
    *,
    assignment_id: str,
    lead: dict[str, Any],
    decision: Decision,
    now: datetime,
    attempt: int,
    previous_rep_id: str | None,
    excluded: frozenset[str],
    config_version: int | None,
    mql_event_id: str,
) -> dict[str, Any]:
    """The ``assignments`` row for a decision that chose a rep."""
    assert decision.rep_id is not None
    assert decision.team_id is not None
    return {
        "assignment_id": assignment_id,
        "lead_id": lead["lead_id"],
        "rep_id": decision.rep_id,
        "team_id": decision.team_id,
        "rule_id": decision.rule_id,
        "attempt": attempt,
        "previous_rep_id": previous_rep_id,
        "status": "pending",
        "config_version": config_version,
        "assigned_at": now,
        "sla_due_at": decision.sla_due_at,
        "explanation": decision.explanation.to_dict(),
        "lead": lead,
        "mql_event_id": mql_event_id,
        "excluded_reps": sorted(excluded),
    }


def assigned_data(row: dict[str, Any], decision: Decision | None = None) -> dict[str, Any]:
    """The data of ``lead.assigned`` for an assignment row (CONTRACT §3), with the SLA terms and
    the rep's manager of the decision that made it (extensions the sla-monitor runs on)."""
    terms = decision.sla if decision is not None else None
    return {
        "assignment_id": row["assignment_id"],
        "lead_id": row["lead_id"],
        "rep_id": row["rep_id"],
        "team_id": row["team_id"],
        "rule_id": row["rule_id"],
        "attempt": row["attempt"],
        "previous_rep_id": row["previous_rep_id"],
        "assigned_at": row["assigned_at"],
        "sla_due_at": row["sla_due_at"],
        "explanation": row["explanation"],
        "lead": row["lead"],
        "config_version": row["config_version"],
        "manager_id": decision.manager_id if decision is not None else None,
        "sla": terms.to_dict() if terms is not None else None,
    }
