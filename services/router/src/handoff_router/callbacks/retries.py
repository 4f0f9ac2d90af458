"""When to try a callback again: exponential backoff with full jitter, ``Retry-After``, 410.

Pure: the caller hands in ``now`` and the jitter (a number in [0, 1)), so a schedule can be
replayed exactly. The schedule keeps trying until the delivery is ``window`` old (3 days by
default: longer than Svix's ~27.6 h, like the Standard Webhooks example's ~75 h); the last
try lands on the window's end, and the failure after it marks the delivery ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

Verdict = Literal["delivered", "retry", "gone"]


@dataclass(frozen=True)
class RetryPolicy:
    """The retry schedule's knobs."""

    base: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=6)
    min_delay: timedelta = timedelta(seconds=1)
    window: timedelta = timedelta(days=3)

    def ceiling(self, attempt: int) -> timedelta:
        """The longest wait after the ``attempt``-th failed try: base * 2^(attempt-1), capped."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        seconds = self.base.total_seconds() * 2.0 ** min(attempt - 1, 60)
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


@dataclass(frozen=True)
class Attempt:
    """What one try got: an HTTP status, or no answer (``status`` None, ``error`` its class)."""

    status: int | None
    error: str | None = None
    retry_after: str | None = None  # the raw header, when the answer had one


@dataclass(frozen=True)
class NextStep:
    """After a try: delivered, try again at ``retry_at``, or give up (``failed``, ``reason``)."""

    status: Literal["delivered", "pending", "failed"]
    retry_at: datetime | None = None
    reason: str | None = None


def verdict(attempt: Attempt) -> Verdict:
    """Any 2xx is delivered; 410 Gone stops calling the endpoint; everything else is retried."""
    if attempt.status is not None and 200 <= attempt.status < 300:
        return "delivered"
    if attempt.status == 410:
        return "gone"
    return "retry"


def counts_against_endpoint(attempt: Attempt) -> bool:
    """Whether the try is a failure of the endpoint for its circuit (429 is a live endpoint saying wait)."""
    return verdict(attempt) == "retry" and attempt.status != 429


RETRY_AFTER_LONGEST = timedelta(days=365)
"""No ``Retry-After`` is read as longer than this (the policy's ``max_delay`` bounds it further)."""


def retry_after_delay(header: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a wait, read leniently: delta-seconds (ASCII digits, any number of
    them: a huge one is ``RETRY_AFTER_LONGEST``) or an HTTP date (without a zone: GMT, as HTTP
    dates are). None when absent or unreadable; never raises, whatever the endpoint sent."""
    if header is None:
        return None
    text = header.strip()
    if text.isascii() and text.isdigit():
        longest = int(RETRY_AFTER_LONGEST.total_seconds())
        return timedelta(seconds=longest if len(text) > 12 else min(int(text), longest))
    if not text.isascii() or len(text) > 64:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return min(max(when - now, timedelta(0)), RETRY_AFTER_LONGEST)
    except OverflowError:
        return RETRY_AFTER_LONGEST


def backoff_delay(attempt: int, jitter: float, policy: RetryPolicy) -> timedelta:
    """Full jitter: uniform in [min_delay, ceiling(attempt)] as ``jitter`` goes over [0, 1)."""
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter is a number in [0, 1)")
    ceiling = policy.ceiling(attempt)
    low = min(policy.min_delay, ceiling)
    return low + (ceiling - low) * jitter


def next_step(
    attempt: Attempt,
    attempts_made: int,
    created_at: datetime,
    now: datetime,
    jitter: float,
    policy: RetryPolicy,
) -> NextStep:
    """Decide what follows the ``attempts_made``-th try of a delivery created at ``created_at``."""
    outcome = verdict(attempt)
    if outcome == "delivered":
        return NextStep("delivered")
    if outcome == "gone":
        return NextStep("failed", reason="endpoint_gone")
    deadline = created_at + policy.window
    if now >= deadline:
        return NextStep("failed", reason="retries_exhausted")
    delay = backoff_delay(attempts_made, jitter, policy)
    asked = retry_after_delay(attempt.retry_after, now)
    if asked is not None:
        # The endpoint knows when it will be ready: honour it, within our own bounds.
        delay = min(max(asked, policy.min_delay), policy.max_delay)
    return NextStep("pending", retry_at=min(now + delay, deadline))


def schedule(policy: RetryPolicy, jitters: list[float]) -> list[timedelta]:
    """Offsets from creation of every try when each fails at once (the first at 0): for docs and tests."""
    offsets = [timedelta(0)]
    for number, jitter in enumerate(jitters, start=1):
        step = next_step(Attempt(status=503), number, _EPOCH, _EPOCH + offsets[-1], jitter, policy)
        if step.retry_at is None:
            break
        offsets.append(step.retry_at - _EPOCH)
    return offsets


_EPOCH = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
