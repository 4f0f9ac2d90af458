"""What the router reads of ``lead.escalated`` (a slim view of handoff_shared.event_views).

The sla-monitor validated the event when it planned the step; the view holds the fields the
router acts on, with the contract model's constraints, and the extension fields it passes on
as they came. tests/unit/router/test_escalation_views.py holds the view and the model equal.
"""

from __future__ import annotations

from typing import Any

import msgspec
from handoff_shared import events
from handoff_shared.event_views import Id, Level, UtcTime


class Escalation(msgspec.Struct, frozen=True):
    """``lead.escalated``: the step that fired, and what the router needs to act on it."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    level: Level
    sla_due_at: UtcTime
    manager_id: Id | None = None
    # Extensions (sla-monitor): passed on to the manager's notice, or the SLA terms carried.
    team_id: Any = None
    attempt: Any = None
    max_reassignments: Any = None
    pause_after_expired: Any = None


VIEWS: dict[str, type[msgspec.Struct]] = {events.LEAD_ESCALATED: Escalation}
