"""The rep API's bodies and answers."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class TokensRevoked(BaseModel):
    """How many tokens of the rep stopped working."""

    rep_id: str
    tokens_revoked: int


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
    calendar: dict[str, Any] | None = Field(
        None,
        description="the rep's calendar feed: busy_now, busy_until, read_at, events, error (the last"
        " read's, while the last known state is kept)",
    )


class MeOut(BaseModel):
    """The calling rep, as the inbox shows them: who, their clock, their availability, the reasons."""

    rep_id: str
    name: str | None
    email: str
    timezone: str
    available: bool
    unavailable_until: AwareDatetime | None
    unavailable_reason: str | None
    rejection_reasons: list[str]
    disqualification_reasons: list[str]


class OffboardIn(BaseModel):
    successor: str = Field(max_length=200, description="the rep who takes over the accounts")


class OffboardOut(BaseModel):
    """What moved when a rep was offboarded."""

    model_config = ConfigDict(extra="allow")  # each feature's own account of what it moved

    rep_id: str
    successor: str
    tokens_revoked: int
    config_version: int | None = Field(None, description="the config version where the rep is inactive")
    named_accounts: list[str] = Field(default_factory=list, description="config named accounts moved")
    accounts_moved: int = Field(0, description="accounts of the account book now owned by the successor")
    reassigned: list[dict[str, Any]] = Field(
        default_factory=list, description="pending assignments routed again: assignment_id, lead_id, now_with"
    )
