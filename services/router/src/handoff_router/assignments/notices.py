"""The manager's word of what the router did after an SLA ran out: plain data, no I/O.

When a ``reassign`` escalation ends with the lead parked (``sla.max_reassignments`` reached)
or the rep auto-paused (``sla.pause_after_expired`` assignments in a row went cold), the
router tells the rep's manager with a ``lead.escalated`` of level ``escalate`` (contract §3:
the levels are fixed; what happened is in the extension fields ``reason`` and ``summary``).
It goes through the router's outbox in the transaction that parks or pauses, so the notice
exists exactly when the park or the pause does, and its id is derived from the assignment
and the reason, so even a repeat carries the same id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from handoff_shared import cloudevents, events
from handoff_shared.cloudevents import CloudEvent
from handoff_shared.events import format_rfc3339

from handoff_router.event_views import Escalation

MAX_REASSIGNMENTS = "max_reassignments"  # the queue's reason; a pause uses SLA_AUTO_PAUSED
_NOTICE_IDS = uuid.UUID("0b7e6f0a-51c4-4d8e-9a52-6a1f3d2c7e90")


def notice_id(assignment_id: str, reason: str) -> str:
    """The same id for the same notice, always."""
    return str(uuid.uuid5(_NOTICE_IDS, f"{assignment_id}/{reason}"))


def manager_notice(
    escalation: Escalation, reason: str, summary: str, now: datetime, source: str
) -> CloudEvent:
    """``lead.escalated`` (level ``escalate``) for the manager of the escalated assignment's rep."""
    data: dict[str, Any] = {
        "assignment_id": escalation.assignment_id,
        "lead_id": escalation.lead_id,
        "rep_id": escalation.rep_id,
        "level": "escalate",
        "sla_due_at": format_rfc3339(escalation.sla_due_at),
        "overdue_seconds": (now - escalation.sla_due_at).total_seconds(),
        "manager_id": escalation.manager_id,
        "escalated_at": format_rfc3339(now),
        # Extensions: why the manager hears of it (the queue's or the availability's reason), in words.
        "reason": reason,
        "summary": summary,
        "team_id": escalation.team_id,
        "attempt": escalation.attempt,
    }
    payload = {name: value for name, value in data.items() if value is not None}
    return cloudevents.new_event(
        events.LEAD_ESCALATED,
        source,
        escalation.lead_id,
        payload,
        id=notice_id(escalation.assignment_id, reason),
        time=now,
    )
