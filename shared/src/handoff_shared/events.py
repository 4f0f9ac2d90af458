"""One pydantic model per event of CONTRACT §3: the ``data`` of each CloudEvent.

Fields the contract names are validated strictly (no "12" for 12, no ``true`` for 1, no naive
or non-RFC 3339 times); fields it does not name are kept as they came ("more fields are
welcome"). Times are aware and UTC once validated, and serialise as RFC 3339 with ``Z``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

MQL_CREATED = "mql.created"
LEAD_ASSIGNED = "lead.assigned"
LEAD_ACCEPTED = "lead.accepted"
LEAD_REJECTED = "lead.rejected"
LEAD_ESCALATED = "lead.escalated"
LEAD_QUALIFIED = "lead.qualified"
LEAD_OUTCOME = "scoring.lead_outcome"
FEEDBACK_SNAPSHOT = "scoring.feedback_snapshot"
ACCEPTANCE_ALERT = "scoring.acceptance_alert"
ROUTING_CONFIG_APPLIED = "routing.config_applied"

_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
ID_PATTERN = r"\S(?:.*\S)?"  # an identifier: one line, no blanks around it
_ID = re.compile(ID_PATTERN)


class InvalidTime(ValueError):
    """A time that is not an RFC 3339 date-time with a UTC offset."""


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time (``2026-01-31T09:00:00Z``, offset required) as an aware UTC datetime."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise InvalidTime(
            f"{text[:64]!r} is not an RFC 3339 date-time with offset, e.g. 2026-01-31T09:00:00Z"
        )
    if match["fraction"] is None or len(match["fraction"]) <= 6:
        try:  # the common case, at C speed; the shape was checked by the pattern above
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            pass  # out-of-range parts: the slow path below says which
    offset = timedelta(0)
    if match["sign"]:
        hours, minutes = int(match["oh"]), int(match["om"])
        if hours > 23 or minutes > 59:
            raise InvalidTime(f"{text[:64]!r} has an offset out of range")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if match["sign"] == "-" else 1)
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    year, month, day = (int(part) for part in match["date"].split("-"))
    try:
        moment = datetime(
            year,
            month,
            day,
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=timezone(offset),
        )
    except ValueError as error:
        raise InvalidTime(f"{text[:64]!r} is not a valid date-time: {error}") from None
    return moment.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTime("naive datetime: a time needs a UTC offset")
    return moment.astimezone(UTC)


def format_rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC, ``Z``-suffixed."""
    if moment.tzinfo is UTC:  # the common case: already UTC, no conversion
        return moment.isoformat().replace("+00:00", "Z")
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def _time(value: Any) -> Any:
    if isinstance(value, str):
        return parse_rfc3339(value)
    if isinstance(value, datetime):
        return as_utc(value)
    raise InvalidTime("a time must be an RFC 3339 string, e.g. 2026-01-31T09:00:00Z")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an email address")
    return value


def _id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError("an id must be one line with no blanks around it")
    return value


def _country(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        raise ValueError("not an ISO 3166-1 alpha-2 country code (two letters, e.g. US)")
    return value.upper()


Text = Annotated[str, Strict(), Field(max_length=10_000)]
# An identifier: non-empty, one line, no surrounding blanks.
Id = Annotated[
    str,
    Strict(),
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": f"^{_ID.pattern}$"}),
    AfterValidator(_id),
]
Int = Annotated[int, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Seconds = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
Rate = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]
Time = Annotated[datetime, BeforeValidator(_time)]
Email = Annotated[
    str, Strict(), Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email)
]
Country = Annotated[
    str,
    Strict(),
    Field(min_length=2, max_length=2, json_schema_extra={"pattern": "^[A-Za-z]{2}$"}),
    AfterValidator(_country),
]
Domain = Annotated[str, Strict(), Field(min_length=1, max_length=253), AfterValidator(str.lower)]


class EventData(BaseModel):
    """Base of every event's data: known fields strict, unknown ones kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Company(EventData):
    """The lead's company, as far as marketing knows it."""

    name: Text | None = None
    domain: Domain | None = None
    employees: Count | None = None
    industry: Text | None = None
    annual_revenue: Number | None = None


class MqlCreated(EventData):
    """``mql.created``: a lead became marketing qualified."""

    lead_id: Id
    email: Email
    first_name: Text | None = None
    last_name: Text | None = None
    title: Text | None = None
    phone: Text | None = None
    company: Company | None = None
    country: Country | None = None
    region: Text | None = None
    postal_code: Text | None = None
    source: Text | None = None
    campaign: Text | None = None
    score: Number | None = None
    product_interest: list[Text] | None = None
    mql_at: Time | None = None
    attributes: dict[str, Any] | None = None


class Skipped(EventData):
    """A rep that was considered and passed over, and why."""

    rep_id: Id
    reason: Annotated[str, Strict(), Field(min_length=1, max_length=1000)]


class Explanation(EventData):
    """Why this rep: the rule, the strategy, who was considered and who was skipped."""

    rule_id: Id
    strategy: Text | None = None
    candidates: list[Id] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)


Clock = Annotated[
    str,
    Strict(),
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", json_schema_extra={"examples": ["09:00"]}),
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SlaHours(EventData):
    """Business hours in the rep's timezone: ``start``-``end`` (end excluded) on ``days``."""

    start: Clock
    end: Clock
    days: list[Weekday] = Field(min_length=1)


class SlaStep(EventData):
    """At ``percent`` of the SLA elapsed (in business time when hours are set), ``action``."""

    percent: Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
    action: Literal["remind", "escalate", "reassign"]


class SlaTerms(EventData):
    """An extension of ``lead.assigned``: the SLA of the config version the assignment was made
    under, team overrides applied, so the sla-monitor never re-derives it from a newer config.

    ``max_reassignments`` and ``pause_after_expired`` travel on to the ``lead.escalated`` of each
    step, for the router; ``pause_after_expired`` 0 means off (the router writes 0 for a config
    without the key, so an absent value only ever comes from an event older than it)."""

    accept_within_seconds: Seconds
    timezone: Annotated[str, Strict(), Field(min_length=1, max_length=100)]
    business_hours: SlaHours | None = None
    holidays: list[Annotated[str, Strict(), Field(min_length=2, max_length=10)]] = Field(default_factory=list)
    ladder: list[SlaStep] = Field(default_factory=list)
    max_reassignments: Count | None = None
    pause_after_expired: Count | None = None


class LeadAssigned(EventData):
    """``lead.assigned``: a lead went to a rep.

    Beyond the contract's fields it carries ``config_version``, ``manager_id`` (the rep's
    manager, who receives escalations) and ``sla`` (``SlaTerms``); events without ``sla``
    (from before it existed) are read with a wall-clock SLA from ``assigned_at`` to
    ``sla_due_at`` and the default ladder.
    """

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    team_id: Id
    rule_id: Id
    attempt: Annotated[int, Strict(), Field(ge=1)]
    previous_rep_id: Id | None = None
    assigned_at: Time
    sla_due_at: Time
    explanation: Explanation
    lead: MqlCreated
    manager_id: Id | None = None
    sla: SlaTerms | None = None

    @model_validator(mode="after")
    def _lead_is_this_lead(self) -> Self:
        if self.lead.lead_id != self.lead_id:
            raise ValueError(f"lead.lead_id {self.lead.lead_id!r} differs from lead_id {self.lead_id!r}")
        return self


class LeadAccepted(EventData):
    """``lead.accepted``: the assigned rep accepted."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    accepted_at: Time
    seconds_to_accept: Seconds


class LeadRejected(EventData):
    """``lead.rejected``: the assigned rep rejected, with a reason code."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    rejected_at: Time
    reason: Id
    note: Text | None = None

    @model_validator(mode="after")
    def _other_has_a_note(self) -> Self:
        if self.reason == "other" and not (self.note and self.note.strip()):
            raise ValueError("reason 'other' needs a note")
        return self


class LeadEscalated(EventData):
    """``lead.escalated``: an assignment was left undecided too long."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    level: Literal["remind", "escalate", "reassign"]
    sla_due_at: Time
    overdue_seconds: Number  # negative: a reminder before the deadline
    manager_id: Id | None = None
    escalated_at: Time | None = None
    # Set only on the router's manager notices (level ``escalate``): why the manager hears of it,
    # ``max_reassignments`` (the lead is parked) or ``sla_auto_paused`` (the rep is paused).
    reason: Id | None = None
    summary: Text | None = None


class LeadQualified(EventData):
    """``lead.qualified``: after accepting, the assigned rep said what the lead became (SAL -> SQL)."""

    assignment_id: Id
    lead_id: Id
    rep_id: Id
    outcome: Literal["sql", "disqualified"]
    reason: Id | None = None
    note: Text | None = None
    qualified_at: Time
    seconds_since_accept: Seconds

    @model_validator(mode="after")
    def _disqualified_has_a_reason(self) -> Self:
        if self.outcome == "disqualified" and not self.reason:
            raise ValueError("outcome 'disqualified' needs a reason")
        if self.reason == "other" and not (self.note and self.note.strip()):
            raise ValueError("reason 'other' needs a note")
        return self


class LeadOutcome(EventData):
    """``scoring.lead_outcome``: how one lead's handoff ended, or what an accepted lead became."""

    lead_id: Id
    outcome: Literal["accepted", "rejected", "expired", "sql", "disqualified"]
    reason: Text | None = None
    rep_id: Id | None = None
    team_id: Id | None = None
    source: Text | None = None
    campaign: Text | None = None
    score: Number | None = None
    seconds_to_decision: Seconds | None = None
    decided_at: Time | None = None


class FeedbackSnapshot(EventData):
    """``scoring.feedback_snapshot``: acceptance and rejection reasons of a segment over a window."""

    segment: dict[str, Any]
    window_start: Time
    window_end: Time
    mqls: Count
    accepted: Count
    rejected: Count
    rejected_by_reason: dict[str, Count]
    acceptance_rate: Rate
    seconds_to_accept_p50: Seconds | None = None
    seconds_to_accept_p90: Seconds | None = None
    sqls: Count
    sal_to_sql_rate: Rate

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Self:
        if self.window_end < self.window_start:
            raise ValueError("window_end is before window_start")
        return self


class AcceptanceAlert(EventData):
    """``scoring.acceptance_alert``: a segment's acceptance rate crossed a threshold, or came back."""

    segment: dict[str, Any]
    window_start: Time
    window_end: Time
    acceptance_rate: Rate
    decisions: Count
    direction: Literal["below", "above"]
    threshold: Rate
    state: Literal["firing", "resolved"]
    raised_at: Time | None = None

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Self:
        if self.window_end < self.window_start:
            raise ValueError("window_end is before window_start")
        return self


class AlertThresholds(BaseModel):
    """The routing config's ``alerts`` (CONTRACT §9), with its defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acceptance_below: Rate = 0.5
    acceptance_above: Rate = 0.9
    min_decisions: Annotated[int, Strict(), Field(ge=1)] = 20


class RoutingConfigApplied(EventData):
    """``routing.config_applied``: a routing configuration version became active (what other
    services take from it: the acceptance alert thresholds)."""

    version: Annotated[int, Strict(), Field(ge=1)]
    sha256: Id
    applied_at: Time
    alerts: AlertThresholds


EVENT_TYPES: dict[str, type[EventData]] = {
    MQL_CREATED: MqlCreated,
    LEAD_ASSIGNED: LeadAssigned,
    LEAD_ACCEPTED: LeadAccepted,
    LEAD_REJECTED: LeadRejected,
    LEAD_ESCALATED: LeadEscalated,
    LEAD_QUALIFIED: LeadQualified,
    LEAD_OUTCOME: LeadOutcome,
    FEEDBACK_SNAPSHOT: FeedbackSnapshot,
    ACCEPTANCE_ALERT: AcceptanceAlert,
    ROUTING_CONFIG_APPLIED: RoutingConfigApplied,
}
