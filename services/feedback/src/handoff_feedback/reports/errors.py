"""Errors of the reports feature, answered as problem details."""

from __future__ import annotations

from handoff_shared.http import Problem


class InvalidParameter(Problem):
    """A query parameter that cannot be read: 422, naming it."""

    status = 422
    title = "Invalid request"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            f"query.{parameter}: {message}", errors=[{"path": f"query.{parameter}", "message": message}]
        )
