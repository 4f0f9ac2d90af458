"""The manager's notice of a park or an auto-pause: a valid ``lead.escalated`` of level ``escalate``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_router.assignments.notices import MAX_REASSIGNMENTS, manager_notice, notice_id
from handoff_router.event_views import Escalation
from handoff_router.routing.engine import SLA_AUTO_PAUSED
from handoff_shared import cloudevents, events
from handoff_shared.event_views import view_of

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def reassign(**extra: object) -> Escalation:
    return view_of(
        {
            "assignment_id": "asg-1",
            "lead_id": "lead-1",
            "rep_id": "ana",
            "level": "reassign",
            "sla_due_at": (NOW - timedelta(minutes=30)).isoformat(),
            "overdue_seconds": 1800,
            "manager_id": "mgr-1",
            "team_id": "dach",
            "attempt": 2,
            "step": 2,
        }
        | extra,
        Escalation,
    )


def test_a_park_notice_is_an_escalation_to_the_manager_with_the_reason() -> None:
    event = manager_notice(
        reassign(), MAX_REASSIGNMENTS, "parked: reassigned 1 time(s)", NOW, "handoff/router"
    )
    body, headers = cloudevents.encode(event)
    decoded = cloudevents.decode(body, headers)
    data = events.LeadEscalated.model_validate(decoded.data)
    assert (event.type, event.subject, event.source) == ("lead.escalated", "lead-1", "handoff/router")
    assert (data.level, data.manager_id, data.rep_id, data.assignment_id) == (
        "escalate",
        "mgr-1",
        "ana",
        "asg-1",
    )
    assert data.overdue_seconds == 1800
    assert data.escalated_at == NOW
    assert event.data["reason"] == "max_reassignments"
    assert event.data["summary"] == "parked: reassigned 1 time(s)"
    assert (event.data["team_id"], event.data["attempt"]) == ("dach", 2)
    assert "step" not in event.data  # not a ladder step: the feedback's escalate slot is per assignment
    assert decoded.id == event.id


def test_a_notice_has_one_id_per_assignment_and_reason() -> None:
    park = manager_notice(reassign(), MAX_REASSIGNMENTS, "x", NOW, "r")
    again = manager_notice(reassign(), MAX_REASSIGNMENTS, "y", NOW + timedelta(seconds=5), "r")
    pause = manager_notice(reassign(), SLA_AUTO_PAUSED, "x", NOW, "r")
    assert park.id == again.id == notice_id("asg-1", MAX_REASSIGNMENTS)
    assert pause.id != park.id


def test_a_notice_without_a_manager_leaves_the_field_out() -> None:
    event = manager_notice(reassign(manager_id=None), SLA_AUTO_PAUSED, "paused", NOW, "r")
    assert "manager_id" not in event.data
    assert events.LeadEscalated.model_validate(event.data).manager_id is None
