"""The timers feature's domain errors (answered as RFC 9457 problems)."""

from __future__ import annotations

from handoff_shared.http import Problem


class TimerNotFound(Problem):
    status = 404
    title = "Not found"


class NotAdmin(Problem):
    status = 401
    title = "Unauthorized"
