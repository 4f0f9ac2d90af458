"""The routing configuration (CONTRACT §6): its model, and reading and validating it.

An invalid configuration is refused whole: ``validate_config`` reports every problem it
finds, shape (the model) and cross-references (``references``) alike, each with its path
(``teams[1].members[0]``). Keys beyond the contract's, all optional: ``name`` on reps and
managers, ``working_hours_only`` and ``sla.business_hours`` on teams, ``team`` on
accounts, ``rejection_reasons`` and ``disqualification_reasons`` (CONTRACT §9) at the top,
``holidays`` and ``ladder`` in a team's ``sla``; ``alerts`` (CONTRACT §9: acceptance alert
thresholds, passed on to the feedback service in ``routing.config_applied``); ``intake``
(CONTRACT §10: ``intake_sources``).

``sla.holidays`` (and a team's) names country holiday calendars (``US``, ``DE-BY``) whose
public holidays close business hours; ``sla.max_reassignments`` (default 2) bounds the SLA
reassignment loop; ``sla.pause_after_expired`` (absent or 0: off) auto-pauses a rep who lets
that many assignments in a row reach ``reassign``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handoff_shared.business_time import DAYS, BusinessCalendar, BusinessHours, is_known_holiday_calendar
from handoff_shared.durations import parse_duration
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from handoff_router.routing.config_text import read_config_text
from handoff_router.routing.intake_sources import IntakePolicy, IntakeSource
from handoff_router.routing.problems import ConfigInvalid as ConfigInvalid  # re-exported
from handoff_router.routing.problems import Problem as Problem  # re-exported
from handoff_router.routing.references import cross_reference_problems

DEFAULT_REJECTION_REASONS = (
    "wrong_persona",
    "bad_contact_data",
    "not_icp",
    "no_intent",
    "existing_customer",
    "duplicate",
    "competitor",
    "student_or_job_seeker",
    "wrong_territory",
    "spam",
    "other",
)
DEFAULT_DISQUALIFICATION_REASONS = (
    "no_budget",
    "no_authority",
    "no_need",
    "bad_timing",
    "unresponsive",
    "chose_competitor",
    "other",
)
LONGEST_SLA = timedelta(days=365)
Strategy = Literal["round_robin", "weighted_round_robin", "least_loaded"]
Action = Literal["remind", "escalate", "reassign"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _checked(pattern: str, complaint: str) -> AfterValidator:
    def check(text: str) -> str:
        if not re.fullmatch(pattern, text):
            raise ValueError(complaint.format(text=text))
        return text

    return AfterValidator(check)


def _duration(text: str) -> str:
    if parse_duration(text) > LONGEST_SLA:
        raise ValueError(f"{text!r} is longer than the longest SLA allowed, 365d")
    return text


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


def _holiday_calendar(code: str) -> str:
    if not is_known_holiday_calendar(code):
        raise ValueError(
            f"unknown holiday calendar {code!r}"
            " (a country code such as US or DE, or a subdivision such as DE-BY)"
        )
    return code


def _percent(text: str) -> str:
    if not re.fullmatch(r"\d{1,4}(\.\d+)?%", text):
        raise ValueError(f"{text!r} is not a percentage (write e.g. 50%)")
    if float(text[:-1]) <= 0:
        raise ValueError(f"{text!r}: a step must come after the assignment, above 0%")
    return text


Id = Annotated[
    str,
    Field(max_length=200),
    _checked(
        r"[A-Za-z0-9][A-Za-z0-9._:@-]*",
        "{text!r} is not an id: start with a letter or digit; then letters, digits, . _ : @ -",
    ),
]
Duration = Annotated[str, AfterValidator(_duration)]
Clock = Annotated[
    str, _checked(r"([01]\d|2[0-3]):[0-5]\d", "{text!r} is not a time of day (write HH:MM, e.g. 09:00)")
]
Email = Annotated[
    str, Field(max_length=320), _checked(r"[^@\s]+@[^@\s]+\.[^@\s]+", "{text!r} is not an email address")
]
Url = Annotated[
    str,
    Field(max_length=2000),
    _checked(r"https?://[^\s/?#]+(?:[/?#]\S*)?", "{text!r} is not an http(s) URL"),
]
Timezone = Annotated[str, AfterValidator(_timezone)]
SlackId = Annotated[
    str,
    Field(max_length=80),
    _checked(r"[A-Z0-9][A-Z0-9]{1,79}", "{text!r} is not a Slack id (e.g. U024BE7LH or C024BE91L)"),
]
HolidayCalendar = Annotated[str, Field(max_length=10), AfterValidator(_holiday_calendar)]
Domain = Annotated[
    str,
    Field(max_length=253),
    _checked(
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}",
        "{text!r} is not a domain (e.g. acme.io)",
    ),
]
ReasonCode = Annotated[
    str, Field(max_length=100), _checked(r"[a-z][a-z0-9_]*", "{text!r} is not a reason code (e.g. not_icp)")
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Hours(Model):
    """Business hours, local to each rep: ``{start: "09:00", end: "17:00", days: [mon, ...]}``."""

    start: Clock
    end: Clock
    days: list[Day] = Field(min_length=1)

    def business_hours(self) -> BusinessHours:
        """The calendar's form of these hours."""
        return BusinessHours(
            time.fromisoformat(self.start),
            time.fromisoformat(self.end),
            frozenset(DAYS.index(day) for day in self.days),
        )


class LadderStep(Model):
    """At ``at`` percent of the SLA elapsed, take ``action``."""

    at: Annotated[str, AfterValidator(_percent)]
    action: Action

    @property
    def percent(self) -> float:
        """``at`` as a number: 50.0 for ``50%``."""
        return float(self.at.rstrip("%"))


def _default_ladder() -> list[LadderStep]:
    return [
        LadderStep(at="50%", action="remind"),
        LadderStep(at="100%", action="escalate"),
        LadderStep(at="150%", action="reassign"),
    ]


class SlaPolicy(Model):
    """How long a rep has to accept, in which hours the clock runs, and what happens when late."""

    accept_within: Duration = "24h"
    business_hours: Hours | None = None
    holidays: list[HolidayCalendar] = Field(default_factory=list)
    ladder: list[LadderStep] = Field(default_factory=_default_ladder)
    max_reassignments: int = Field(default=2, ge=0, le=100)
    pause_after_expired: int | None = Field(default=None, ge=0, le=1000)


class TeamSla(Model):
    """A team's own SLA; what it leaves out comes from the top-level ``sla``."""

    accept_within: Duration | None = None
    business_hours: Hours | None = None
    holidays: list[HolidayCalendar] | None = None
    ladder: list[LadderStep] | None = None


@dataclass(frozen=True)
class SlaTerms:
    """The SLA an assignment is made under, team overrides applied: what the sla-monitor runs."""

    accept_within: timedelta
    calendar: BusinessCalendar
    ladder: tuple[LadderStep, ...]
    max_reassignments: int
    pause_after_expired: int  # 0: off (the key absent or 0), carried as 0 so nobody falls back
    business_hours: Hours | None

    def due(self, assigned_at: datetime) -> datetime:
        """When the assignment must be decided."""
        return self.calendar.add(assigned_at, self.accept_within)

    def to_dict(self) -> dict[str, Any]:
        """As ``lead.assigned`` carries it (``handoff_shared.events.SlaTerms``); a fresh copy."""
        return dict(self._as_dict)

    @cached_property
    def _as_dict(self) -> dict[str, Any]:
        return {
            "accept_within_seconds": self.accept_within.total_seconds(),
            "timezone": self.calendar.timezone.key,
            "business_hours": self.business_hours.model_dump() if self.business_hours else None,
            "holidays": list(self.calendar.holidays),
            "ladder": [{"percent": step.percent, "action": step.action} for step in self.ladder],
            "max_reassignments": self.max_reassignments,
            "pause_after_expired": self.pause_after_expired,
        }


class Rep(Model):
    """A sales rep who can be assigned leads."""

    id: Id
    email: Email
    timezone: Timezone = "UTC"
    callback_url: Url | None = None  # each channel the rep has is used: callback, Slack, e-mail
    slack_user_id: SlackId | None = None  # assignments come as a Slack DM with Accept / Reject
    calendar_url: Url | None = None  # an ICS feed: out-of-office and all-day busy events
    name: Annotated[str, Field(max_length=200)] | None = None
    weight: int = Field(default=1, ge=1, le=1000)
    max_open: int | None = Field(default=None, ge=0, le=1_000_000)
    max_per_day: int | None = Field(default=None, ge=0, le=1_000_000)
    manager: Id | None = None
    active: bool = True
    cover: Id | None = None  # CONTRACT §11: takes the rep's account leads when the rep cannot


class Manager(Model):
    """Whom escalations about a rep's leads go to."""

    id: Id
    email: Email
    callback_url: Url | None = None
    slack_channel: SlackId | None = None  # escalations and parked leads are posted there
    name: Annotated[str, Field(max_length=200)] | None = None


class Team(Model):
    """Reps sharing leads by ``strategy``; ``working_hours_only`` skips reps outside business hours."""

    id: Id
    strategy: Strategy = "round_robin"
    members: list[Id] = Field(min_length=1)
    sla: TeamSla | None = None
    working_hours_only: bool = False
    skip_unreachable: bool = True  # skip members whose callback endpoint is down (callback_unreachable)


class Account(Model):
    """A named account: leads from ``domain`` (or its subdomains) go to ``owner``."""

    domain: Domain
    owner: Id
    team: Id | None = None


class Rule(Model):
    """Leads matching ``when`` (see ``conditions``) go to ``team``; rules are tried in order.

    ``account_owner: true`` (CONTRACT §11) sends the lead to its matched account's owner, else the
    owner's ``cover``, else ``team`` (the fallback team when the rule names none)."""

    id: Id
    when: dict[str, Any]
    team: Id | None = None
    account_owner: bool = False

    @model_validator(mode="after")
    def _has_a_destination(self) -> Rule:
        if self.team is None and not self.account_owner:
            raise ValueError("a rule needs a team (or account_owner: true)")
        return self


class Matching(Model):
    """``matching`` (CONTRACT §11): how leads are matched to accounts and remembered."""

    fuzzy_name_threshold: float = Field(default=0.9, gt=0, le=1, allow_inf_nan=False)
    account_stickiness: Duration = "30d"

    @property
    def stickiness(self) -> timedelta:
        """``account_stickiness`` as a duration."""
        return parse_duration(self.account_stickiness)


class CallbackPolicy(Model):
    """``callbacks.unreachable_after``: how long a rep's endpoint may be down before routing skips them."""

    unreachable_after: Duration = "15m"


class AlertPolicy(Model):
    """``alerts`` (CONTRACT §9): when a segment's acceptance rate is out of the healthy band.

    The feedback service judges them; the router validates them and passes them on in
    ``routing.config_applied``.
    """

    acceptance_below: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    acceptance_above: float = Field(default=0.9, ge=0, le=1, allow_inf_nan=False)
    min_decisions: int = Field(default=20, ge=1, le=1_000_000_000)

    @model_validator(mode="after")
    def _band(self) -> AlertPolicy:
        if self.acceptance_below >= self.acceptance_above:
            raise ValueError(
                f"acceptance_below ({self.acceptance_below}) must be under"
                f" acceptance_above ({self.acceptance_above})"
            )
        return self


_DEFAULT_MATCHING = Matching()


class RoutingConfig(Model):
    """A whole routing configuration; build it with ``validate_config`` or ``parse_config``."""

    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    reps: list[Rep] = Field(min_length=1)
    managers: list[Manager] = Field(default_factory=list)
    teams: list[Team] = Field(min_length=1)
    accounts: list[Account] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    fallback_team: Id
    rejection_reasons: list[ReasonCode] = Field(
        default_factory=lambda: list(DEFAULT_REJECTION_REASONS), min_length=1
    )
    disqualification_reasons: list[ReasonCode] = Field(
        default_factory=lambda: list(DEFAULT_DISQUALIFICATION_REASONS), min_length=1
    )
    callbacks: CallbackPolicy = Field(default_factory=CallbackPolicy)
    matching: Matching | None = None  # None (absent): the defaults
    # None (absent) means the defaults, and the stored form of a config without it is unchanged.
    alerts: AlertPolicy | None = None
    intake: IntakePolicy | None = None  # CONTRACT §10: sources MQLs may be POSTed from

    @property
    def intake_sources(self) -> list[IntakeSource]:
        """``intake.sources``, empty when the config declares none."""
        return self.intake.sources if self.intake is not None else []

    @property
    def matching_policy(self) -> Matching:
        """``matching``, or the contract's defaults when the config has none."""
        return self.matching or _DEFAULT_MATCHING

    @property
    def alert_policy(self) -> AlertPolicy:
        """``alerts``, or the contract's defaults when the config has none."""
        return self.alerts or AlertPolicy()

    # Lookups built on first use; cached_property leaves equality and dumps to the fields.
    @cached_property
    def _reps(self) -> dict[str, Rep]:
        return {rep.id: rep for rep in self.reps}

    @cached_property
    def _teams(self) -> dict[str, Team]:
        return {team.id: team for team in self.teams}

    @cached_property
    def _accounts(self) -> dict[str, Account]:
        return {account.domain.lower(): account for account in self.accounts}

    @cached_property
    def _home_teams(self) -> dict[str, str]:
        homes: dict[str, str] = {}
        for team in self.teams:
            for member in team.members:
                homes.setdefault(member, team.id)
        return homes

    @cached_property
    def _hours(self) -> dict[str | None, BusinessHours | None]:
        default = self.sla.business_hours
        hours: dict[str | None, BusinessHours | None] = {
            None: default.business_hours() if default is not None else None
        }
        for team in self.teams:
            own = team.sla.business_hours if team.sla is not None else None
            hours[team.id] = own.business_hours() if own is not None else hours[None]
        return hours

    @property
    def rep_ids(self) -> Mapping[str, Rep]:
        """The reps by id (``in`` asks whether an id is a rep of this config)."""
        return self._reps

    def rep(self, rep_id: str) -> Rep:
        """The rep with this id (KeyError when there is none)."""
        return self._reps[rep_id]

    def team(self, team_id: str) -> Team:
        """The team with this id (KeyError when there is none)."""
        return self._teams[team_id]

    def home_team(self, rep_id: str) -> str:
        """The first team listing the rep (the fallback team when none does)."""
        return self._home_teams.get(rep_id, self.fallback_team)

    def account_for(self, domain: str) -> Account | None:
        """The named account of a domain or of any parent domain (``eu.acme.io`` -> ``acme.io``)."""
        parts = domain.strip().lower().strip(".").split(".")
        for start in range(len(parts) - 1):
            account = self._accounts.get(".".join(parts[start:]))
            if account is not None:
                return account
        return None

    def accept_within(self, team_id: str) -> timedelta:
        """The team's time to accept, else the default ``sla.accept_within``."""
        team = self._teams.get(team_id)
        override = team.sla.accept_within if team is not None and team.sla is not None else None
        return parse_duration(override or self.sla.accept_within)

    def business_hours(self, team_id: str) -> BusinessHours | None:
        """The team's business hours, else the default ``sla.business_hours``; None: the clock always runs."""
        hours = self._hours
        return hours[team_id] if team_id in hours else hours[None]

    def holidays(self, team_id: str) -> tuple[str, ...]:
        """The team's holiday calendars, else the default ``sla.holidays``."""
        own = self._team_sla(team_id)
        return tuple(own.holidays if own is not None and own.holidays is not None else self.sla.holidays)

    @cached_property
    def _sla_terms(self) -> dict[tuple[str, str], SlaTerms]:
        return {}

    def sla_terms(self, team_id: str, rep: Rep) -> SlaTerms:
        """The SLA of an assignment of this team to ``rep``: hours in the rep's timezone.

        Built once per team and rep of this configuration (routing asks it for every lead)."""
        key = (team_id, rep.id)
        terms = self._sla_terms.get(key)
        if terms is None or self._reps.get(rep.id) is not rep:
            terms = self._build_sla_terms(team_id, rep)
            if self._reps.get(rep.id) is rep:
                self._sla_terms[key] = terms
        return terms

    def _build_sla_terms(self, team_id: str, rep: Rep) -> SlaTerms:
        own = self._team_sla(team_id)
        hours = own.business_hours if own is not None and own.business_hours is not None else None
        ladder = own.ladder if own is not None and own.ladder is not None else self.sla.ladder
        return SlaTerms(
            accept_within=self.accept_within(team_id),
            calendar=BusinessCalendar(
                ZoneInfo(rep.timezone), self.business_hours(team_id), self.holidays(team_id)
            ),
            ladder=tuple(ladder),
            max_reassignments=self.sla.max_reassignments,
            pause_after_expired=self.sla.pause_after_expired or 0,
            business_hours=hours or self.sla.business_hours,
        )

    def _team_sla(self, team_id: str) -> TeamSla | None:
        team = self._teams.get(team_id)
        return team.sla if team is not None else None

    @staticmethod
    def default_unreachable() -> timedelta:
        """``callbacks.unreachable_after`` when no config says otherwise."""
        return parse_duration(CallbackPolicy().unreachable_after)

    @property
    def unreachable_after(self) -> timedelta:
        """How long a rep's callback endpoint may be down before routing skips them."""
        return parse_duration(self.callbacks.unreachable_after)


def parse_config(text: str | bytes) -> RoutingConfig:
    """Read a configuration written in YAML or JSON and validate it; ConfigInvalid lists every problem."""
    data, found = read_config_text(text)
    try:
        config = validate_config(data)
    except ConfigInvalid as invalid:
        raise ConfigInvalid(found + invalid.problems) from None
    if found:
        raise ConfigInvalid(found)
    return config


def validate_config(data: Any) -> RoutingConfig:
    """Validate a parsed configuration (a mapping); raise ConfigInvalid listing every problem."""
    if not isinstance(data, Mapping):
        raise ConfigInvalid(
            [Problem("", "the configuration must be a mapping of sla, reps, teams, rules...")]
        )
    found: list[Problem] = []
    config: RoutingConfig | None = None
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as error:
        found += [Problem(_path(item["loc"]), _message(item)) for item in error.errors()]
    found += cross_reference_problems(data)
    if found or config is None:
        raise ConfigInvalid(list(dict.fromkeys(found)))
    return config


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]" and not part.startswith(("function-", "literal[")):
            path += f".{part}" if path else part
    return path


def _message(item: Mapping[str, Any]) -> str:
    if item["type"] == "extra_forbidden":
        key = str(item["loc"][-1])
        # A known key the typo begins (fallback -> fallback_team) beats a merely similar one.
        close = [known for known in _KNOWN_KEYS if known.startswith(key)][:1] or difflib.get_close_matches(
            key, _KNOWN_KEYS, n=1
        )
        hint = f"did you mean {close[0]!r}?" if close else "check its spelling against the documented keys"
        return f"unknown key {key!r} ({hint})"
    return str(item["msg"]).removeprefix("Value error, ")


_KNOWN_KEYS = sorted(
    {
        name
        for model in (
            Hours,
            LadderStep,
            SlaPolicy,
            TeamSla,
            Rep,
            Manager,
            Team,
            Account,
            Rule,
            Matching,
            CallbackPolicy,
            RoutingConfig,
            IntakePolicy,
            IntakeSource,
        )
        for name in model.model_fields
    }
)
