"""The circuit breaker of a callback endpoint: opens, one probe, closes. Which circuits may be
called is the claim's SQL: tests/integration/test_callback_claims.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from handoff_router.callbacks.circuit import (
    Circuit,
    CircuitPolicy,
    is_unreachable,
    record_failure,
    record_gone,
    record_success,
    record_throttle,
    reopen,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)
POLICY = CircuitPolicy(failure_threshold=3, open_for=timedelta(seconds=30), max_open_for=timedelta(minutes=4))


def start_probe(circuit: Circuit, now: datetime) -> Circuit:
    """What the claim writes when it takes the one probe (``repository._take_probe``)."""
    return replace(circuit, status="half_open", probe_started_at=now)


def failed(times: int, circuit: Circuit | None = None, at: datetime = NOW) -> Circuit:
    circuit = circuit or Circuit()
    for _ in range(times):
        circuit = record_failure(circuit, at, POLICY)
    return circuit


def test_failures_below_the_threshold_keep_it_closed() -> None:
    circuit = failed(2)
    assert (circuit.status, circuit.failure_streak, circuit.probe_at) == ("closed", 2, None)


def test_the_threshold_opens_it_until_its_probe_is_due() -> None:
    circuit = failed(3)
    assert circuit.status == "open"
    assert circuit.probe_at == NOW + timedelta(seconds=30)


def test_a_successful_probe_closes_it_and_ends_the_outage() -> None:
    closed = record_success(start_probe(failed(3), NOW), NOW + timedelta(seconds=31))
    assert (closed.status, closed.failure_streak, closed.down_since) == ("closed", 0, None)
    assert closed.last_success_at == NOW + timedelta(seconds=31)


def test_a_failed_probe_opens_it_again_for_twice_as_long_up_to_the_cap() -> None:
    circuit = failed(3)
    waits = []
    for _ in range(5):
        assert circuit.probe_at is not None
        at = circuit.probe_at
        circuit = record_failure(start_probe(circuit, at), at, POLICY)
        waits.append(circuit.open_for)
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 240, 240)]
    assert circuit.down_since == NOW


def test_a_stray_failure_while_open_does_not_move_the_probe() -> None:
    circuit = failed(3)
    again = record_failure(circuit, NOW + timedelta(seconds=5), POLICY)
    assert again.probe_at == circuit.probe_at


def test_the_outage_counts_from_the_first_failure_of_the_streak() -> None:
    circuit = failed(1, at=NOW)
    circuit = failed(2, circuit, at=NOW + timedelta(minutes=1))
    assert circuit.down_since == NOW
    assert not is_unreachable(circuit, NOW + timedelta(minutes=14), timedelta(minutes=15))
    assert is_unreachable(circuit, NOW + timedelta(minutes=15), timedelta(minutes=15))


def test_failing_but_closed_is_never_unreachable() -> None:
    assert not is_unreachable(failed(2), NOW + timedelta(days=1), timedelta(minutes=15))


def test_gone_stays_gone_until_reopened() -> None:
    gone = record_gone(Circuit(), NOW)
    assert (gone.status, gone.probe_at) == ("gone", None)
    assert is_unreachable(gone, NOW + timedelta(minutes=15), timedelta(minutes=15))
    assert reopen(gone) == Circuit(last_failure_at=NOW)


def test_a_throttle_holds_every_delivery_until_the_time_asked() -> None:
    held = record_throttle(Circuit(), NOW, timedelta(seconds=20))
    assert (held.status, held.hold_until) == ("closed", NOW + timedelta(seconds=20))


EVENTS = st.lists(st.sampled_from(["fail", "ok", "probe", "tick"]), max_size=80)


@given(EVENTS)
def test_invariants_hold_for_any_sequence(events: list[str]) -> None:
    """Whatever the order of outcomes (a try under way when the circuit opened may still fail
    or succeed; when a probe may be taken is the claim's to say), the circuit stays coherent."""
    circuit, now = Circuit(), NOW
    for event in events:
        now += timedelta(seconds=7)
        if event == "fail":
            circuit = record_failure(circuit, now, POLICY)
        elif event == "ok":
            circuit = record_success(circuit, now)
        elif event == "probe" and circuit.status in {"open", "half_open"}:
            circuit = start_probe(circuit, now)
        if circuit.status == "closed":
            assert circuit.failure_streak < POLICY.failure_threshold
            assert circuit.probe_at is None
        if circuit.status == "open":
            assert circuit.probe_at is not None
            assert circuit.down_since is not None
            assert circuit.open_for is not None
            assert circuit.open_for <= POLICY.max_open_for
        if circuit.failure_streak == 0:
            assert circuit.down_since is None
