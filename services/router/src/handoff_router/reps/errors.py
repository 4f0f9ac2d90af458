"""What the rep use cases refuse."""

from __future__ import annotations

from handoff_shared.http import DomainError


class UnknownRep(DomainError):
    """No rep of that id in the active routing configuration."""


class NotThatRep(DomainError):
    """A rep acting for another rep (only admins may)."""


class InvalidSuccessor(DomainError):
    """The successor named for an offboarding is no active rep of the config, or the rep themselves."""
