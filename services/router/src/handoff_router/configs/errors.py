"""What the routing-config use cases refuse (and ``context.NoActiveConfig``, which any feature may)."""

from __future__ import annotations

from handoff_shared.http import DomainError

from handoff_router.routing.config import ConfigInvalid


class InvalidConfig(DomainError):
    """A config refused whole; ``problems`` lists every problem with its path."""

    def __init__(self, error: ConfigInvalid) -> None:
        super().__init__(
            f"{len(error.problems)} problem(s); the previous version stays active",
            problems=[problem.to_dict() for problem in error.problems],
        )


class InvalidLeadFile(DomainError):
    """A file of leads to simulate that cannot be read; ``problems`` names each bad line."""


class InvalidLead(DomainError):
    """MQL data to preview that is not valid; ``errors`` names each field."""


class NotText(DomainError):
    """An upload or body that is not UTF-8 text."""


class NoConfigYet(DomainError):
    """No version to show: none has been put yet."""
