"""What the queue use cases refuse."""

from __future__ import annotations

from handoff_shared.http import DomainError


class LeadNotQueued(DomainError):
    """No lead of that id waits in the unassigned queue."""


class NotParked(DomainError):
    """The lead waits for capacity, not for people: routing takes it as soon as it can."""
