"""The routing configuration (CONTRACT §6): its model and its validation.

An invalid configuration is refused whole: ``validate_config`` reports every problem it
finds, shape and cross-references alike, each with its path (``teams[1].members[0]``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from handoff_router.routing import conditions
from handoff_router.routing.calendar import DAYS, BusinessHours
from handoff_router.routing.durations import parse_duration

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
Strategy = Literal["round_robin", "weighted_round_robin", "least_loaded"]
Action = Literal["remind", "escalate", "reassign"]


def _duration(text: str) -> str:
    parse_duration(text)
    return text


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


def _clock(text: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"{text!r} is not a time of day (write HH:MM, e.g. 09:00)")
    return text


def _percent(text: str) -> str:
    if not re.fullmatch(r"\d{1,4}(\.\d+)?%", text):
        raise ValueError(f"{text!r} is not a percentage (write e.g. 50%)")
    return text


def _email(text: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise ValueError(f"{text!r} is not an email address")
    return text


def _url(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+(?:[/?#]\S*)?", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
Duration = Annotated[str, AfterValidator(_duration)]
Clock = Annotated[str, AfterValidator(_clock)]
Email = Annotated[str, AfterValidator(_email)]
Url = Annotated[str, AfterValidator(_url)]
Timezone = Annotated[str, AfterValidator(_timezone)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Hours(Model):
    start: Clock
    end: Clock
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)

    def business_hours(self) -> BusinessHours:
        """The calendar's form of these hours."""
        return BusinessHours(
            time.fromisoformat(self.start),
            time.fromisoformat(self.end),
            frozenset(DAYS.index(day) for day in self.days),
        )


class LadderStep(Model):
    at: Annotated[str, AfterValidator(_percent)]
    action: Action

    @property
    def percent(self) -> float:
        return float(self.at.rstrip("%"))


def _default_ladder() -> list[LadderStep]:
    return [
        LadderStep(at="50%", action="remind"),
        LadderStep(at="100%", action="escalate"),
        LadderStep(at="150%", action="reassign"),
    ]


class SlaPolicy(Model):
    accept_within: Duration = "24h"
    business_hours: Hours | None = None
    ladder: list[LadderStep] = Field(default_factory=_default_ladder)


class TeamSla(Model):
    accept_within: Duration | None = None
    business_hours: Hours | None = None


class Rep(Model):
    id: Id
    email: Email
    timezone: Timezone = "UTC"
    callback_url: Url
    name: str | None = None
    weight: int = Field(default=1, ge=1, le=1000)
    max_open: int | None = Field(default=None, ge=0)
    max_per_day: int | None = Field(default=None, ge=0)
    manager: Id | None = None
    active: bool = True


class Manager(Model):
    id: Id
    email: Email
    callback_url: Url
    name: str | None = None


class Team(Model):
    id: Id
    strategy: Strategy = "round_robin"
    members: list[Id] = Field(min_length=1)
    sla: TeamSla | None = None
    working_hours_only: bool = False


class Account(Model):
    domain: Annotated[str, Field(min_length=3, max_length=253, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]
    owner: Id
    team: Id | None = None


class Rule(Model):
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
    rejection_reasons: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=lambda: list(DEFAULT_REJECTION_REASONS), min_length=1
    )

    _reps: dict[str, Rep] = PrivateAttr(default_factory=dict)
    _teams: dict[str, Team] = PrivateAttr(default_factory=dict)
    _home_team: dict[str, str] = PrivateAttr(default_factory=dict)
    _accounts: dict[str, Account] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        self._reps = {rep.id: rep for rep in self.reps}
        self._teams = {team.id: team for team in self.teams}
        self._accounts = {account.domain.lower(): account for account in self.accounts}
        for team in self.teams:
            for member in team.members:
                self._home_team.setdefault(member, team.id)

    def rep(self, rep_id: str) -> Rep:
        return self._reps[rep_id]

    def team(self, team_id: str) -> Team:
        return self._teams[team_id]

    def home_team(self, rep_id: str) -> str:
        """The first team listing the rep (the fallback team when none does)."""
        return self._home_team.get(rep_id, self.fallback_team)

    def account_for(self, domain: str) -> Account | None:
        """The named account of a domain or of any parent domain (``eu.acme.io`` -> ``acme.io``)."""
        parts = domain.lower().strip(".").split(".")
        for start in range(len(parts) - 1):
            account = self._accounts.get(".".join(parts[start:]))
            if account is not None:
                return account
        return None

    def accept_within(self, team_id: str) -> timedelta:
        team = self._teams.get(team_id)
        override = team.sla.accept_within if team is not None and team.sla is not None else None
        return parse_duration(override or self.sla.accept_within)

    def business_hours(self, team_id: str) -> BusinessHours | None:
        team = self._teams.get(team_id)
        hours = team.sla.business_hours if team is not None and team.sla is not None else None
        hours = hours or self.sla.business_hours
        return hours.business_hours() if hours is not None else None

    def canonical_json(self) -> str:
        """A stable text of the configuration, for hashing and comparing versions."""
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")
        )


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration, and where."""

    path: str
    message: str


class ConfigInvalid(ValueError):
    """A configuration refused whole; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s): " + "; ".join(f"{p.path}: {p.message}" for p in problems[:10])
        )
        self.problems = problems


def parse_config(text: str | bytes) -> RoutingConfig:
    """Read a configuration written in YAML or JSON (JSON is YAML too) and validate it."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigInvalid(
            [Problem(where, f"not valid YAML or JSON: {getattr(error, 'problem', error)}")]
        ) from None
    return validate_config(data)


def validate_config(data: Any) -> RoutingConfig:
    """Validate a parsed configuration; raise ConfigInvalid listing every problem."""
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
    found += list(_cross_reference_problems(data))
    if found:
        raise ConfigInvalid(_unique(found))
    assert config is not None
    return config


def _cross_reference_problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    reps = _items(data.get("reps"))
    teams = _items(data.get("teams"))
    managers = _items(data.get("managers"))
    rules = _items(data.get("rules"))
    accounts = _items(data.get("accounts"))
    for section, items, key in (
        ("reps", reps, "id"),
        ("managers", managers, "id"),
        ("teams", teams, "id"),
        ("rules", rules, "id"),
        ("accounts", accounts, "domain"),
    ):
        counts = Counter(
            str(item[key]).lower() if key == "domain" else item[key]
            for _, item in items
            if isinstance(item.get(key), str)
        )
        for index, item in items:
            value = item.get(key)
            if isinstance(value, str) and counts[value.lower() if key == "domain" else value] > 1:
                yield Problem(f"{section}[{index}].{key}", f"duplicate {key} {value!r}")
    rep_ids = {item["id"] for _, item in reps if isinstance(item.get("id"), str)}
    active = {
        item["id"] for _, item in reps if isinstance(item.get("id"), str) and item.get("active", True) is True
    }
    team_ids = {item["id"]: item for _, item in teams if isinstance(item.get("id"), str)}
    manager_ids = {item["id"] for _, item in managers if isinstance(item.get("id"), str)}
    for index, rep in reps:
        manager = rep.get("manager")
        if isinstance(manager, str) and manager not in manager_ids:
            yield Problem(f"reps[{index}].manager", f"unknown manager {manager!r}")
    for index, team in teams:
        members = team.get("members")
        if isinstance(members, list):
            seen: set[str] = set()
            for position, member in enumerate(members):
                if isinstance(member, str) and member not in rep_ids:
                    yield Problem(f"teams[{index}].members[{position}]", f"unknown rep {member!r}")
                elif isinstance(member, str) and member in seen:
                    yield Problem(f"teams[{index}].members[{position}]", f"{member!r} is listed twice")
                if isinstance(member, str):
                    seen.add(member)
    for index, rule in rules:
        rule_team = rule.get("team")
        if isinstance(rule_team, str) and rule_team not in team_ids:
            yield Problem(f"rules[{index}].team", f"unknown team {rule_team!r}")
        for where, message in conditions.problems(rule.get("when")):
            yield Problem(
                f"rules[{index}].when{'.' + where if where and not where.startswith('[') else where}", message
            )
    for index, account in accounts:
        owner, account_team = account.get("owner"), account.get("team")
        if isinstance(owner, str) and owner not in rep_ids:
            yield Problem(f"accounts[{index}].owner", f"unknown rep {owner!r}")
        if isinstance(account_team, str) and account_team not in team_ids:
            yield Problem(f"accounts[{index}].team", f"unknown team {account_team!r}")
    yield from _hours_problems(data.get("sla"), "sla")
    for index, team in teams:
        yield from _hours_problems(team.get("sla"), f"teams[{index}].sla")
    fallback = data.get("fallback_team")
    if isinstance(fallback, str):
        if fallback not in team_ids:
            yield Problem("fallback_team", f"unknown team {fallback!r}")
        else:
            members = team_ids[fallback].get("members")
            if isinstance(members, list) and not any(member in active for member in members):
                yield Problem(
                    "fallback_team", f"unreachable fallback: team {fallback!r} has no active member"
                )
    reasons = data.get("rejection_reasons")
    if isinstance(reasons, list):
        for position, (reason, count) in enumerate(Counter(r for r in reasons if isinstance(r, str)).items()):
            if count > 1:
                yield Problem(f"rejection_reasons[{position}]", f"duplicate reason {reason!r}")


def _hours_problems(sla: Any, path: str) -> Iterator[Problem]:
    if not isinstance(sla, Mapping) or not isinstance(sla.get("business_hours"), Mapping):
        return
    hours = sla["business_hours"]
    start, end = hours.get("start"), hours.get("end")
    if isinstance(start, str) and isinstance(end, str) and start >= end and re.fullmatch(r"\d\d:\d\d", start):
        yield Problem(f"{path}.business_hours", f"start {start} must come before end {end}")


def _items(section: Any) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(section, list):
        return []
    return [(index, item) for index, item in enumerate(section) if isinstance(item, Mapping)]


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"function-after[_duration(), str]"} or str(part).startswith(("function-", "literal[")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(item: Mapping[str, Any]) -> str:
    message = str(item["msg"])
    if item["type"] == "extra_forbidden":
        return "unknown key (check its spelling against the documented keys)"
    return message.removeprefix("Value error, ")


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
