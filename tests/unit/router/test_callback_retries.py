"""The retry schedule of callbacks: full jitter, a window of days, Retry-After, 410."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from handoff_router.callbacks.retries import (
    RETRY_AFTER_LONGEST,
    Attempt,
    RetryPolicy,
    backoff_delay,
    counts_against_endpoint,
    next_step,
    retry_after_delay,
    schedule,
    verdict,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)
POLICY = RetryPolicy()
JITTER = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@pytest.mark.parametrize(("status", "expected"), [(200, "delivered"), (204, "delivered"), (299, "delivered")])
def test_any_2xx_is_delivered(status: int, expected: str) -> None:
    assert verdict(Attempt(status)) == expected


@pytest.mark.parametrize("status", [None, 300, 301, 400, 401, 404, 408, 429, 500, 502, 503])
def test_anything_else_or_no_answer_is_retried(status: int | None) -> None:
    assert verdict(Attempt(status, error="timeout" if status is None else None)) == "retry"


def test_gone_stops_at_once_and_fails_the_delivery() -> None:
    step = next_step(Attempt(410), 1, NOW, NOW, 0.5, POLICY)
    assert (step.status, step.reason, step.retry_at) == ("failed", "endpoint_gone", None)


def test_a_throttle_is_not_a_failure_of_the_endpoint() -> None:
    assert not counts_against_endpoint(Attempt(429))
    assert counts_against_endpoint(Attempt(503))
    assert counts_against_endpoint(Attempt(None, error="connect_error"))
    assert not counts_against_endpoint(Attempt(200))


def test_ceilings_double_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.ceiling(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert POLICY.ceiling(40) == POLICY.max_delay
    assert POLICY.ceiling(10_000) == POLICY.max_delay  # no overflow however many tries


def test_zero_jitter_waits_the_minimum_and_near_one_waits_the_ceiling() -> None:
    assert backoff_delay(4, 0.0, POLICY) == POLICY.min_delay
    assert backoff_delay(4, 0.999999, POLICY) == pytest.approx(
        timedelta(seconds=40), abs=timedelta(seconds=1)
    )


def test_jitter_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        backoff_delay(1, 1.0, POLICY)


def test_retry_after_in_seconds_is_honoured_exactly() -> None:
    step = next_step(Attempt(429, retry_after="120"), 1, NOW, NOW, 0.0, POLICY)
    assert step.retry_at == NOW + timedelta(seconds=120)


def test_retry_after_as_an_http_date_is_honoured() -> None:
    step = next_step(Attempt(503, retry_after="Tue, 24 Nov 2026 14:10:00 GMT"), 1, NOW, NOW, 0.9, POLICY)
    assert step.retry_at == NOW + timedelta(minutes=10)


def test_retry_after_is_bounded_by_our_longest_wait() -> None:
    step = next_step(Attempt(429, retry_after="9999999"), 1, NOW, NOW, 0.0, POLICY)
    assert step.retry_at == NOW + POLICY.max_delay


@pytest.mark.parametrize("header", [None, "", "soon", "Mon, 99 Foo 2026", "-5"])
def test_unreadable_retry_after_falls_back_to_backoff(header: str | None) -> None:
    assert retry_after_delay(header, NOW) is None
    step = next_step(Attempt(429, retry_after=header), 3, NOW, NOW, 0.5, POLICY)
    assert step.retry_at == NOW + backoff_delay(3, 0.5, POLICY)


def test_after_the_window_the_delivery_fails_visibly() -> None:
    step = next_step(Attempt(500), 30, NOW, NOW + POLICY.window, 0.5, POLICY)
    assert (step.status, step.reason) == ("failed", "retries_exhausted")


def test_the_schedule_reaches_days_and_beats_svix() -> None:
    offsets = schedule(POLICY, [0.5] * 200)
    assert offsets[-1] == POLICY.window
    svix_last_try = timedelta(hours=27, minutes=35)
    assert offsets[-1] > svix_last_try
    assert all(b >= a for a, b in itertools.pairwise(offsets))


@given(st.lists(JITTER, min_size=1, max_size=60))
def test_every_wait_is_between_the_minimum_and_its_ceiling(jitters: list[float]) -> None:
    for attempt, jitter in enumerate(jitters, start=1):
        delay = backoff_delay(attempt, jitter, POLICY)
        assert POLICY.min_delay <= delay <= POLICY.ceiling(attempt)


@given(st.lists(JITTER, min_size=1, max_size=300))
def test_no_try_is_ever_scheduled_after_the_window(jitters: list[float]) -> None:
    offsets = schedule(POLICY, jitters)
    assert all(timedelta(0) <= offset <= POLICY.window for offset in offsets)
    assert offsets == sorted(offsets)


@given(JITTER, st.integers(1, 40), st.integers(0, 10**6))
def test_retry_after_wins_over_backoff_within_bounds(jitter: float, attempt: int, seconds: int) -> None:
    step = next_step(Attempt(429, retry_after=str(seconds)), attempt, NOW, NOW, jitter, POLICY)
    asked = min(max(timedelta(seconds=seconds), POLICY.min_delay), POLICY.max_delay)
    assert step.retry_at == min(NOW + asked, NOW + POLICY.window)


@given(st.integers(200, 299), st.integers(1, 100), JITTER)
def test_a_2xx_is_delivered_whatever_came_before(status: int, attempts: int, jitter: float) -> None:
    assert next_step(Attempt(status), attempts, NOW, NOW + timedelta(days=9), jitter, POLICY).status == (
        "delivered"
    )


@pytest.mark.parametrize(
    "header",
    [
        "99999999999999999999",
        "9" * 400,
        "٣٠",
        "¹²",
        "\uff13\uff10",  # fullwidth digits
        "Tue, 24 Nov 99999 14:10:00 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
    ],
)
def test_hostile_retry_after_never_raises_and_stays_bounded(header: str) -> None:
    """Issue 22: a 503 with ``Retry-After: 99999999999999999999`` or a non-ASCII one broke the
    record of a whole batch of tries (OverflowError, ValueError)."""
    delay = retry_after_delay(header, NOW)
    assert delay is None or timedelta(0) <= delay <= RETRY_AFTER_LONGEST
    step = next_step(Attempt(503, retry_after=header), 1, NOW, NOW, 0.5, POLICY)
    assert step.retry_at is not None
    assert NOW < step.retry_at <= NOW + POLICY.max_delay


def test_a_huge_retry_after_waits_the_longest_we_wait() -> None:
    step = next_step(Attempt(503, retry_after="99999999999999999999"), 1, NOW, NOW, 0.0, POLICY)
    assert step.retry_at == NOW + POLICY.max_delay


def test_an_http_date_without_a_zone_is_read_as_gmt() -> None:
    assert retry_after_delay("Tue, 24 Nov 2026 14:10:00 -0000", NOW) == timedelta(minutes=10)


@given(st.text(max_size=80))
def test_any_retry_after_text_is_read_without_raising(header: str) -> None:
    delay = retry_after_delay(header, NOW)
    assert delay is None or timedelta(0) <= delay <= RETRY_AFTER_LONGEST
