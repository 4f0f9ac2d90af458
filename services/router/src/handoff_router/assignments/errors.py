"""The router's domain errors; the app maps each to its HTTP status as problem details."""

from __future__ import annotations

from handoff_shared.http import Problem


class AssignmentNotFound(Problem):
    status = 404
    title = "Assignment not found"


class NotYourAssignment(Problem):
    status = 403
    title = "Not your assignment"


class AlreadyDecided(Problem):
    status = 409
    title = "Assignment already decided"


class InvalidReason(Problem):
    status = 422
    title = "Invalid rejection reason"


class NoActiveConfig(Problem):
    status = 409
    title = "No routing configuration is active"


class UnknownRep(Problem):
    status = 404
    title = "Unknown rep"
