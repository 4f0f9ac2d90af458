"""What the assignment use cases refuse."""

from __future__ import annotations

from handoff_shared.http import DomainError


class AssignmentNotFound(DomainError):
    """No assignment of that id."""


class NotYourAssignment(DomainError):
    """The assignment belongs to another rep."""


class AlreadyDecided(DomainError):
    """Decided the other way already, or reassigned away; ``assignment_status`` says which."""


class InvalidReason(DomainError):
    """A reason code that is not configured, or ``other`` without a note."""


class CannotQualify(DomainError):
    """Not accepted (yet), or qualified otherwise before; ``assignment_status`` says which."""


class InvalidQualification(DomainError):
    """A disqualification without a configured reason, ``other`` without a note, or a reason for ``sql``."""
