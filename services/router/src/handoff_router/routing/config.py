"""The routing configuration (CONTRACT §6): its model, and reading and validating it.

An invalid configuration is refused whole: ``validate_config`` reports every problem it
finds, shape (the model) and cross-references (``references``) alike, each with its path
(``teams[1].members[0]``). Keys beyond the contract's, all optional: ``name`` on reps and
managers, ``working_hours_only`` and ``sla.business_hours`` on teams, ``team`` on
accounts, ``rejection_reasons`` at the top.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from handoff_router.routing.calendar import DAYS, BusinessHours
from handoff_router.routing.config_text import read_config_text
from handoff_router.routing.durations import parse_duration
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
    ladder: list[LadderStep] = Field(default_factory=_default_ladder)


class TeamSla(Model):
    """A team's own SLA; what it leaves out comes from the top-level ``sla``."""

    accept_within: Duration | None = None
    business_hours: Hours | None = None


class Rep(Model):
    """A sales rep who can be assigned leads."""

    id: Id
    email: Email
    timezone: Timezone = "UTC"
    callback_url: Url
    name: Annotated[str, Field(max_length=200)] | None = None
    weight: int = Field(default=1, ge=1, le=1000)
    max_open: int | None = Field(default=None, ge=0)
    max_per_day: int | None = Field(default=None, ge=0)
    manager: Id | None = None
    active: bool = True


class Manager(Model):
    """Whom escalations about a rep's leads go to."""

    id: Id
    email: Email
    callback_url: Url
    name: Annotated[str, Field(max_length=200)] | None = None


class Team(Model):
    """Reps sharing leads by ``strategy``; ``working_hours_only`` skips reps outside business hours."""

    id: Id
    strategy: Strategy = "round_robin"
    members: list[Id] = Field(min_length=1)
    sla: TeamSla | None = None
    working_hours_only: bool = False


class Account(Model):
    """A named account: leads from ``domain`` (or its subdomains) go to ``owner``."""

    domain: Domain
    owner: Id
    team: Id | None = None


class Rule(Model):
    """Leads matching ``when`` (see ``conditions``) go to ``team``; rules are tried in order."""

    id: Id
    when: dict[str, Any]
    team: Id


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

    def canonical_json(self) -> str:
        """A stable text of the configuration, for hashing and comparing versions."""
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")
        )


def config_hash(config: RoutingConfig) -> str:
    """``sha256:<hex>`` of the canonical JSON: equal for configurations that mean the same."""
    return "sha256:" + hashlib.sha256(config.canonical_json().encode()).hexdigest()


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
        close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "check its spelling against the documented keys"
        return f"unknown key {key!r} ({hint})"
    return str(item["msg"]).removeprefix("Value error, ")


_KNOWN_KEYS = sorted(
    {
        name
        for model in (Hours, LadderStep, SlaPolicy, TeamSla, Rep, Manager, Team, Account, Rule, RoutingConfig)
        for name in model.model_fields
    }
)
