"""The events the router writes match the contract's models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_router.assignments.records import assigned_data, assignment_row
from handoff_router.routing.engine import RoutingState, route
from handoff_shared import cloudevents
from handoff_shared.events import LeadAssigned

from tests.unit.router.sample import config, lead

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def test_lead_assigned_data_is_valid_and_survives_the_envelope() -> None:
    the_lead = lead(country="DE", company={"domain": "x.io", "employees": 40}, mql_at="2026-11-24T13:00:00Z")
    decision, _ = route(the_lead, config(), RoutingState(), NOW)
    row = assignment_row(
        assignment_id="a-1",
        lead=the_lead,
        decision=decision,
        now=NOW,
        attempt=1,
        previous_rep_id=None,
        excluded=frozenset(),
        config_version=3,
        mql_event_id="e-1",
    )

    data_out = assigned_data(row, decision)
    event = cloudevents.new_event("lead.assigned", "handoff/router", "lead-1", data_out, time=NOW)
    value, headers = cloudevents.encode(event)
    _, data = cloudevents.decode_typed(value, headers, {"lead.assigned"})

    assert isinstance(data, LeadAssigned)
    assert (data.rep_id, data.team_id, data.rule_id, data.attempt) == ("ana", "dach", "dach", 1)
    assert data.sla_due_at > data.assigned_at
    assert data.explanation.strategy == "weighted_round_robin"
    assert data.model_extra == {"config_version": 3}
    assert data.sla is not None
    assert (data.sla.accept_within_seconds, data.sla.timezone, data.sla.max_reassignments) == (
        14400.0,
        "UTC",
        2,
    )
    assert [(step.percent, step.action) for step in data.sla.ladder] == [
        (50.0, "remind"),
        (100.0, "escalate"),
        (150.0, "reassign"),
    ]
    assert data.sla_due_at == NOW + timedelta(seconds=data.sla.accept_within_seconds)
