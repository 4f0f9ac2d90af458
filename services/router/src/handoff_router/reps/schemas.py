"""The rep API's bodies and answers."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel


class Token(BaseModel):
    """A rep's new token, shown this once."""

    token: str


class AvailabilityIn(BaseModel):
    """``until``: when the rep is back (unavailable) or away again (available); RFC 3339 with offset."""

    available: bool
    until: AwareDatetime | None = None


class AvailabilityOut(AvailabilityIn):
    rep_id: str


class RepLoadOut(BaseModel):
    """A rep of the active config: open assignments, today's count, caps and availability."""

    rep_id: str
    active: bool
    available: bool
    unavailable_until: AwareDatetime | None
    unavailable_reason: str | None = None  # sla_auto_paused when the router paused the rep
    open: int
    open_by_account: int = 0  # of ``open``: given by account (named account, owner, cover, stickiness)
    max_open: int | None
    assigned_today: int
    max_per_day: int | None
    weight: int
