"""The circuit breaker of a callback endpoint: opens, waits, one probe, closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_router.callbacks.circuit import (
    Circuit,
    CircuitPolicy,
    is_unreachable,
    permission,
    record_failure,
    record_gone,
    record_success,
    record_throttle,
    reopen,
    start_probe,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)
POLICY = CircuitPolicy(failure_threshold=3, open_for=timedelta(seconds=30), max_open_for=timedelta(minutes=4))


def failed(times: int, circuit: Circuit | None = None, at: datetime = NOW) -> Circuit:
    circuit = circuit or Circuit()
    for _ in range(times):
        circuit = record_failure(circuit, at, POLICY)
    return circuit


def test_failures_below_the_threshold_keep_it_closed() -> None:
    circuit = failed(2)
    assert (circuit.status, circuit.failure_streak, permission(circuit, NOW, POLICY)) == ("closed", 2, "send")


def test_the_threshold_opens_it_and_deliveries_wait() -> None:
    circuit = failed(3)
    assert circuit.status == "open"
    assert circuit.probe_at == NOW + timedelta(seconds=30)
    assert permission(circuit, NOW + timedelta(seconds=29), POLICY) == "wait"


def test_when_the_probe_is_due_exactly_one_probe_goes() -> None:
    circuit = failed(3)
    later = NOW + timedelta(seconds=30)
    assert permission(circuit, later, POLICY) == "probe"
    probing = start_probe(circuit, later)
    assert probing.status == "half_open"
    assert permission(probing, later + timedelta(seconds=1), POLICY) == "wait"


def test_a_probe_that_never_answered_can_be_retaken_after_its_lease() -> None:
    probing = start_probe(failed(3), NOW)
    assert permission(probing, NOW + POLICY.probe_lease, POLICY) == "probe"


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


def test_gone_sends_nothing_until_reopened() -> None:
    gone = record_gone(Circuit(), NOW)
    assert permission(gone, NOW + timedelta(days=30), POLICY) == "wait"
    assert is_unreachable(gone, NOW + timedelta(minutes=15), timedelta(minutes=15))
    assert permission(reopen(gone), NOW, POLICY) == "send"


def test_a_throttle_holds_every_delivery_until_the_time_asked() -> None:
    held = record_throttle(Circuit(), NOW, timedelta(seconds=20))
    assert held.status == "closed"
    assert permission(held, NOW + timedelta(seconds=19), POLICY) == "wait"
    assert permission(held, NOW + timedelta(seconds=20), POLICY) == "send"


EVENTS = st.lists(st.sampled_from(["fail", "ok", "probe", "tick"]), max_size=80)


@given(EVENTS)
def test_invariants_hold_for_any_sequence(events: list[str]) -> None:
    circuit, now = Circuit(), NOW
    for event in events:
        now += timedelta(seconds=7)
        allowed = permission(circuit, now, POLICY)
        if event == "fail" and allowed != "wait":
            circuit = record_failure(
                start_probe(circuit, now) if allowed == "probe" else circuit, now, POLICY
            )
        elif event == "ok" and allowed != "wait":
            circuit = record_success(circuit, now)
        elif event == "probe" and allowed == "probe":
            circuit = start_probe(circuit, now)
            # one probe at a time: nobody else may probe or send until it answers or its lease ends
            assert permission(circuit, now, POLICY) == "wait"
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
