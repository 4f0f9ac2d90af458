"""Timer rows from lead.assigned, and lead.escalated from fired steps, against the event models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from handoff_shared import cloudevents, events
from handoff_shared.event_views import view_of
from handoff_sla_monitor.timers.event_views import Assigned
from handoff_sla_monitor.timers.records import advance, escalation_event, escalation_id, timer_row

from tests.unit.shared.samples import data_of

ASSIGNED_AT = datetime(2026, 11, 20, 21, tzinfo=UTC)  # Friday 16:00 in New York


def assigned(**extra: object) -> Assigned:
    """The sla-monitor's view of a valid ``lead.assigned``."""
    data = data_of(events.LEAD_ASSIGNED) | {
        "assigned_at": ASSIGNED_AT.isoformat(),
        "sla_due_at": (ASSIGNED_AT + timedelta(hours=4)).isoformat(),
    }
    events.LeadAssigned.model_validate(data | extra)
    return view_of(data | extra, Assigned)


def test_a_timer_runs_on_the_terms_its_assignment_carries() -> None:
    terms = {
        "accept_within_seconds": 4 * 3600,
        "timezone": "America/New_York",
        "business_hours": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
        "holidays": ["US"],
        "ladder": [{"percent": 50, "action": "remind"}, {"percent": 100, "action": "escalate"}],
        "max_reassignments": 1,
    }
    row = timer_row(assigned(sla=terms, manager_id="mgr-bob"))
    assert [step["level"] for step in row["steps"]] == ["remind", "escalate"]
    assert row["steps"][1]["fire_at"] == "2026-11-23T17:00:00+00:00"  # Monday 12:00 in New York
    assert row["next_fire_at"] == datetime(2026, 11, 23, 15, tzinfo=UTC)
    assert (row["manager_id"], row["terms"]["max_reassignments"]) == ("mgr-bob", 1)


def test_an_assignment_without_terms_keeps_its_deadline_on_a_wall_clock() -> None:
    row = timer_row(assigned())
    fire_times = [step["fire_at"] for step in row["steps"]]
    assert fire_times == [
        (ASSIGNED_AT + timedelta(hours=2)).isoformat(),
        (ASSIGNED_AT + timedelta(hours=4)).isoformat(),
        (ASSIGNED_AT + timedelta(hours=6)).isoformat(),
    ]


def test_escalations_are_valid_events_with_a_stable_id_per_step() -> None:
    row = SimpleNamespace(**timer_row(assigned(manager_id="mgr-bob")))
    now = ASSIGNED_AT + timedelta(hours=7)
    fired, state, status = advance(row, now)
    assert ([step.level for step in fired], status, state.next_fire_at) == (
        ["remind", "escalate", "reassign"],
        "reassigned",
        None,
    )
    event = escalation_event(row, fired[1], now, "handoff/sla-monitor")
    value, headers = cloudevents.encode(event)
    decoded, data = cloudevents.decode_typed(value, headers, {events.LEAD_ESCALATED})
    assert isinstance(data, events.LeadEscalated)
    assert (data.level, data.overdue_seconds, data.manager_id) == ("escalate", 3 * 3600, "mgr-bob")
    assert decoded.id == escalation_id(row.assignment_id, 1) == escalation_event(row, fired[1], now, "x").id
    assert escalation_event(row, fired[0], now, "x").id != decoded.id
