"""The circuit breaker of one callback endpoint: closed, open, half-open with one probe, gone.

Pure: state in, state out, ``now`` handed in; the database row holds it so every router
replica sees the same circuit. While open, deliveries to the endpoint wait without
spending tries; when ``probe_at`` comes one delivery is sent as the probe (half-open);
its success closes the circuit, its failure opens it again for twice as long (capped).
A 410 Gone makes the endpoint ``gone``: nothing is sent until its URL changes or an
admin redelivers. ``down_since`` is the first failure of the current streak (kept across
probes); once the circuit is not closed, routing compares it with
``callbacks.unreachable_after``.

Who may be called now (closed and not held; open with its probe due, or a probe whose lease
ran out, as the one probe that half-opens it) is decided in one place, the claim's SQL
(``repository.claim``), over every endpoint at once; these functions say what a try's
outcome does to the circuit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

CircuitStatus = Literal["closed", "open", "half_open", "gone"]


@dataclass(frozen=True)
class CircuitPolicy:
    """How many failures in a row open the circuit, and how long it stays open."""

    failure_threshold: int = 5
    open_for: timedelta = timedelta(seconds=30)
    max_open_for: timedelta = timedelta(minutes=10)
    probe_lease: timedelta = timedelta(seconds=60)  # a probe unanswered this long may be retaken


@dataclass(frozen=True)
class Circuit:
    """One endpoint's circuit."""

    status: CircuitStatus = "closed"
    failure_streak: int = 0
    down_since: datetime | None = None
    probe_at: datetime | None = None
    open_for: timedelta | None = None
    probe_started_at: datetime | None = None
    hold_until: datetime | None = None  # the endpoint asked us to wait (429 + Retry-After)
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None


def record_success(circuit: Circuit, now: datetime) -> Circuit:
    """A 2xx: the circuit closes and the outage, if any, is over."""
    return Circuit(status="closed", last_success_at=now, last_failure_at=circuit.last_failure_at)


def record_failure(circuit: Circuit, now: datetime, policy: CircuitPolicy) -> Circuit:
    """A failed try: count it; open at the threshold, or again after a failed probe (for longer)."""
    if circuit.status == "gone":
        return replace(circuit, last_failure_at=now)
    streak = circuit.failure_streak + 1
    if circuit.status == "half_open":
        open_for = min((circuit.open_for or policy.open_for) * 2, policy.max_open_for)
        return _opened(circuit, now, streak, open_for)
    if circuit.status == "open":  # a try that was already under way when the circuit opened
        return replace(circuit, failure_streak=streak, last_failure_at=now)
    down_since = circuit.down_since or now
    if streak >= policy.failure_threshold:
        return _opened(replace(circuit, down_since=down_since), now, streak, policy.open_for)
    return replace(circuit, failure_streak=streak, down_since=down_since, last_failure_at=now)


def record_throttle(circuit: Circuit, now: datetime, wait: timedelta) -> Circuit:
    """A 429: the endpoint is alive but asks every delivery to it to wait."""
    return replace(circuit, hold_until=now + wait)


def record_gone(circuit: Circuit, now: datetime) -> Circuit:
    """A 410 Gone: stop calling the endpoint at once."""
    return replace(
        circuit,
        status="gone",
        down_since=circuit.down_since or now,
        probe_at=None,
        probe_started_at=None,
        last_failure_at=now,
        failure_streak=circuit.failure_streak + 1,
    )


def reopen(circuit: Circuit) -> Circuit:
    """An admin redelivers to a gone endpoint, or its URL changed: try it again from closed."""
    if circuit.status != "gone":
        return circuit
    return Circuit(last_success_at=circuit.last_success_at, last_failure_at=circuit.last_failure_at)


def is_unreachable(circuit: Circuit, now: datetime, unreachable_after: timedelta) -> bool:
    """Down (open, probing or gone) for at least ``unreachable_after``: routing skips the rep."""
    if circuit.status == "closed" or circuit.down_since is None:
        return False
    return now - circuit.down_since >= unreachable_after


def _opened(circuit: Circuit, now: datetime, streak: int, open_for: timedelta) -> Circuit:
    return replace(
        circuit,
        status="open",
        failure_streak=streak,
        down_since=circuit.down_since or now,
        probe_at=now + open_for,
        open_for=open_for,
        probe_started_at=None,
        last_failure_at=now,
    )
