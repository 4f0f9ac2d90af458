"""A rep paused by the router for letting leads go cold is skipped, and the explanation says so."""

from __future__ import annotations

from datetime import UTC, datetime

from handoff_router.routing.engine import SLA_AUTO_PAUSED, Availability, RoutingState, route

from tests.unit.router.sample import config, lead

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def test_an_auto_paused_rep_is_skipped_with_its_own_reason() -> None:
    paused = RoutingState(availability={"ana": Availability(available=False, reason=SLA_AUTO_PAUSED)})
    decision, _ = route(lead(country="DE"), config(), paused, NOW)
    assert decision.rep_id == "ben"
    assert [(skip.rep_id, skip.reason) for skip in decision.explanation.skipped] == [
        ("ana", "sla_auto_paused")
    ]


def test_a_rep_who_set_themselves_away_is_merely_unavailable() -> None:
    away = RoutingState(availability={"ana": Availability(available=False)})
    decision, _ = route(lead(country="DE"), config(), away, NOW)
    assert [(skip.rep_id, skip.reason) for skip in decision.explanation.skipped] == [("ana", "unavailable")]
