"""The routing decision: (lead, config, state, now) -> (decision, new state). No I/O.

Order: named accounts first (the company's domain, or the email's when the company has
none; subdomains match their account), then the rules in order, first match wins, then
the team's strategy over the members who can take the lead. Nobody in the team: the
fallback team. Nobody there either: no rep, and the caller queues the lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from handoff_router.routing import conditions
from handoff_router.routing.calendar import add_business_time, is_within_hours, local_day
from handoff_router.routing.config import Rep, RoutingConfig, Team
from handoff_router.routing.rotation import TeamRotation, pick


@dataclass(frozen=True)
class RepLoad:
    """A rep's undecided assignments, and how many they got on ``day`` (their local date)."""

    open: int = 0
    day: date | None = None
    today: int = 0


@dataclass(frozen=True)
class Availability:
    """Set at run time: unavailable until ``until`` (None: until said otherwise)."""

    available: bool = True
    until: datetime | None = None


@dataclass(frozen=True)
class RoutingState:
    """Everything routing remembers between leads: rotations, loads, availability."""

    rotation: Mapping[str, TeamRotation] = field(default_factory=dict)
    load: Mapping[str, RepLoad] = field(default_factory=dict)
    availability: Mapping[str, Availability] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """A rep passed over, and why."""

    rep_id: str
    reason: str  # inactive | excluded | unavailable | outside_working_hours | at_max_open | at_max_per_day


@dataclass(frozen=True)
class Explanation:
    """Why a lead went where it went."""

    rule_id: str
    strategy: str | None
    candidates: tuple[str, ...]
    skipped: tuple[Skip, ...]
    matched_by: str  # named_account | rule | fallback | none
    teams_tried: tuple[str, ...] = ()
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "strategy": self.strategy,
            "candidates": list(self.candidates),
            "skipped": [{"rep_id": skip.rep_id, "reason": skip.reason} for skip in self.skipped],
            "matched_by": self.matched_by,
            "teams_tried": list(self.teams_tried),
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Decision:
    """The rep chosen (None: nobody can take it now, so it waits), with why."""

    rep_id: str | None
    team_id: str | None
    rule_id: str
    explanation: Explanation
    sla_due_at: datetime | None


def is_available(availability: Availability | None, now: datetime) -> bool:
    """True unless marked unavailable and not yet past ``until``."""
    if availability is None or availability.available:
        return True
    return availability.until is not None and now >= availability.until


def skip_reason(
    rep: Rep,
    team: Team | None,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    exclude: frozenset[str],
) -> str | None:
    """Why ``rep`` cannot take a lead now, or None when they can."""
    if not rep.active:
        return "inactive"
    if rep.id in exclude:
        return "excluded"
    if not is_available(state.availability.get(rep.id), now):
        return "unavailable"
    tz = ZoneInfo(rep.timezone)
    if team is not None and team.working_hours_only:
        hours = config.business_hours(team.id)
        if hours is not None and not is_within_hours(now, hours, tz):
            return "outside_working_hours"
    load = state.load.get(rep.id, RepLoad())
    if rep.max_open is not None and load.open >= rep.max_open:
        return "at_max_open"
    if rep.max_per_day is not None and _today(load, now, tz) >= rep.max_per_day:
        return "at_max_per_day"
    return None


def route(
    lead: Mapping[str, Any],
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Decision, RoutingState]:
    """Pick the rep for one lead; return the new routing state beside it."""
    skipped: list[Skip] = []
    account = _account(lead, config)
    if account is not None:
        owner = config.rep(account.owner)
        team_id = account.team or config.home_team(owner.id)
        reason = skip_reason(owner, None, config, state, now, exclude)
        if reason is None:
            explanation = Explanation(
                rule_id=f"account:{account.domain}",
                strategy="named_account",
                candidates=(owner.id,),
                skipped=(),
                matched_by="named_account",
                teams_tried=(team_id,),
                summary=f"named account {account.domain} belongs to {owner.id}",
            )
            return _assign(owner, team_id, explanation, config, state, now)
        skipped.append(Skip(owner.id, reason))

    rule = next((rule for rule in config.rules if conditions.matches(rule.when, lead)), None)
    rule_id = rule.id if rule is not None else "fallback"
    teams = [rule.team] if rule is not None else []
    if config.fallback_team not in teams:
        teams.append(config.fallback_team)
    tried: list[str] = []
    candidates: list[str] = []
    for team_id in teams:
        team = config.team(team_id)
        tried.append(team_id)
        candidates += team.members
        chosen, rotation, team_skips = _choose(team, config, state, now, exclude)
        skipped += team_skips
        if chosen is not None:
            matched_by = "rule" if rule is not None and team_id == rule.team else "fallback"
            explanation = Explanation(
                rule_id=rule_id,
                strategy=team.strategy,
                candidates=tuple(dict.fromkeys(candidates)),
                skipped=tuple(skipped),
                matched_by=matched_by,
                teams_tried=tuple(tried),
                summary=_summary(rule_id, rule is not None, tried, team, chosen, skipped),
            )
            state = replace(state, rotation={**state.rotation, team_id: rotation})
            return _assign(config.rep(chosen), team_id, explanation, config, state, now)
    explanation = Explanation(
        rule_id=rule_id,
        strategy=None,
        candidates=tuple(dict.fromkeys(candidates)),
        skipped=tuple(skipped),
        matched_by="none",
        teams_tried=tuple(tried),
        summary=f"nobody in {', '.join(tried)} can take it now; it waits in the unassigned queue",
    )
    return Decision(None, None, rule_id, explanation, None), state


def _choose(
    team: Team, config: RoutingConfig, state: RoutingState, now: datetime, exclude: frozenset[str]
) -> tuple[str | None, TeamRotation, list[Skip]]:
    eligible: list[tuple[str, int]] = []
    skips: list[Skip] = []
    for member in team.members:
        rep = config.rep(member)
        reason = skip_reason(rep, team, config, state, now, exclude)
        if reason is None:
            eligible.append((rep.id, 1 if team.strategy == "round_robin" else rep.weight))
        else:
            skips.append(Skip(rep.id, reason))
    rotation = state.rotation.get(team.id, {})
    if not eligible:
        return None, rotation, skips
    if team.strategy == "least_loaded":
        fewest = min(state.load.get(rep_id, RepLoad()).open for rep_id, _ in eligible)
        eligible = [(rep_id, 1) for rep_id, _ in eligible if state.load.get(rep_id, RepLoad()).open == fewest]
    chosen, new_rotation = pick(eligible, rotation)
    return chosen, new_rotation, skips


def _assign(
    rep: Rep,
    team_id: str,
    explanation: Explanation,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
) -> tuple[Decision, RoutingState]:
    tz = ZoneInfo(rep.timezone)
    load = state.load.get(rep.id, RepLoad())
    day = local_day(now, tz)
    new_load = RepLoad(open=load.open + 1, day=day, today=_today(load, now, tz) + 1)
    due = add_business_time(
        now, config.accept_within(team_id), config.business_hours(team_id), tz
    ).astimezone(UTC)
    decision = Decision(rep.id, team_id, explanation.rule_id, explanation, due)
    return decision, replace(state, load={**state.load, rep.id: new_load})


def _today(load: RepLoad, now: datetime, tz: ZoneInfo) -> int:
    return load.today if load.day == local_day(now, tz) else 0


def _account(lead: Mapping[str, Any], config: RoutingConfig) -> Any:
    if not config.accounts:
        return None
    company = lead.get("company")
    domain = company.get("domain") if isinstance(company, Mapping) else None
    if not domain:
        email = lead.get("email")
        domain = email.rsplit("@", 1)[-1] if isinstance(email, str) and "@" in email else None
    return config.account_for(domain) if isinstance(domain, str) and domain else None


def _summary(
    rule_id: str, matched: bool, tried: list[str], team: Team, chosen: str, skipped: list[Skip]
) -> str:
    start = f"rule {rule_id} matched" if matched else "no rule matched"
    via = (
        f"; team {tried[0]} could not take it, so fallback {team.id}"
        if len(tried) > 1
        else f"; team {team.id}"
    )
    passed = "; skipped " + ", ".join(f"{s.rep_id} ({s.reason})" for s in skipped) if skipped else ""
    return f"{start}{via} ({team.strategy}) chose {chosen}{passed}"
