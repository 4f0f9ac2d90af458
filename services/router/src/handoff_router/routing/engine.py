"""The routing decision: (lead, config, state, now) -> (decision, new state). No I/O.

Order:
1. Named accounts. The lead's ``company.domain``, or the domain of its ``email`` when the
   company has none (a lead from a known account without company data still reaches its
   owner), compared case-insensitively; a subdomain matches its account (``eu.acme.io``
   is ``acme.io``). The owner takes it for the account's ``team``, else the first team
   listing them, else the fallback team; that team's working hours and SLA apply. An
   owner who cannot take it is recorded as skipped, and the rules decide.
2. The rules in order; the first whose ``when`` holds names the team, whose strategy
   picks among the members who can take the lead (each one passed over is recorded).
   No rule matches, or nobody in the team can take it: the fallback team.
3. Nobody there either: no rep (``rep_id`` None), and the caller queues the lead; the
   decision still names the rule that matched.

Accounts and people (CONTRACT §11), from the ``LeadContext`` the caller matched and recalled:
the reps a returning person rejected are skipped; within ``matching.account_stickiness`` the
rep of the account's open or accepted lead takes it when able; rules test ``account.*`` of
the matched account, and a rule with ``account_owner: true`` sends the lead to the owner,
else the owner's ``cover``, else its team.

The new state counts the assignment (open and today +1) and advances the rotation of
the team that chose. A lead given by account (named account, owner, cover, stickiness)
leaves the team's rotation alone: it was not the team's turn to give, so the rotation's
shares stay exact. The same inputs always give the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from handoff_shared.business_time import is_within_hours, local_day

from handoff_router.routing import conditions
from handoff_router.routing.config import Account, Rep, RoutingConfig, Rule, SlaTerms, Team
from handoff_router.routing.matching import NO_MATCH, AccountMatch
from handoff_router.routing.rotation import TeamRotation, pick

SkipReason = Literal[
    "inactive",
    "excluded",
    "unavailable",
    "calendar",
    "sla_auto_paused",
    "callback_unreachable",
    "outside_working_hours",
    "at_max_open",
    "at_max_per_day",
]
SLA_AUTO_PAUSED = "sla_auto_paused"
MatchedBy = Literal["named_account", "account_owner", "cover", "stickiness", "rule", "fallback", "none"]
BY_ACCOUNT: frozenset[str] = frozenset({"named_account", "account_owner", "cover", "stickiness"})
"""Ways a lead reaches a rep by its account rather than by a team's rotation."""


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
    reason: str | None = None  # sla_auto_paused: the router paused the rep (their leads went cold)


@dataclass(frozen=True)
class RoutingState:
    """Everything routing knows between leads: rotations, loads, availability, and the reps whose
    callback endpoint has been down longer than ``callbacks.unreachable_after`` (found by the edge)."""

    rotation: Mapping[str, TeamRotation] = field(default_factory=dict)
    load: Mapping[str, RepLoad] = field(default_factory=dict)
    availability: Mapping[str, Availability] = field(default_factory=dict)
    unreachable: frozenset[str] = frozenset()
    # Busy spans from each rep's calendar feed (out of office, all-day busy): [start, end).
    calendar: Mapping[str, tuple[tuple[datetime, datetime], ...]] = field(default_factory=dict)


def is_away_by_calendar(spans: tuple[tuple[datetime, datetime], ...], now: datetime) -> bool:
    """True while ``now`` falls inside one of the rep's busy spans."""
    return any(start <= now < end for start, end in spans)


@dataclass(frozen=True)
class LeadContext:
    """What the caller knows of a lead beyond its data: its account, the person, their history."""

    match: AccountMatch = NO_MATCH
    person_key: str | None = None
    existing_assignment_id: str | None = None  # the person's open assignment, when there is one
    rejected_by: frozenset[str] = frozenset()  # reps who rejected this person before
    sticky_rep: str | None = None  # rep of the account's open or accepted lead, within stickiness
    sticky_assignment_id: str | None = None

    def identity(self) -> dict[str, Any]:
        """``explanation.identity``."""
        return {"person_key": self.person_key, "existing_assignment_id": self.existing_assignment_id}


NO_CONTEXT = LeadContext()


@dataclass(frozen=True)
class Skip:
    """A rep passed over, and why."""

    rep_id: str
    reason: SkipReason


@dataclass(frozen=True)
class Explanation:
    """Why a lead went where it went: the rule, the strategy, who was considered and passed over."""

    rule_id: str
    strategy: str | None
    candidates: tuple[str, ...]
    skipped: tuple[Skip, ...]
    matched_by: MatchedBy
    teams_tried: tuple[str, ...] = ()
    summary: str = ""
    match: Mapping[str, Any] | None = None
    identity: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The explanation as JSON, as ``lead.assigned`` carries it."""
        extra: dict[str, Any] = {}
        if self.match is not None:
            extra["match"] = dict(self.match)
        if self.identity is not None:
            extra["identity"] = dict(self.identity)
        return extra | {
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
    """The rep chosen (None: nobody can take it now, so it waits), with why and by when."""

    rep_id: str | None
    team_id: str | None
    rule_id: str
    explanation: Explanation
    sla_due_at: datetime | None
    sla: SlaTerms | None = None  # the SLA the assignment runs under, when a rep was chosen
    manager_id: str | None = None  # the chosen rep's manager, who hears of escalations


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
    exclude: frozenset[str] = frozenset(),
) -> SkipReason | None:
    """Why ``rep`` cannot take a lead for ``team`` now, or None when they can."""
    if not rep.active:
        return "inactive"
    if rep.id in exclude:
        return "excluded"
    availability = state.availability.get(rep.id)
    if not is_available(availability, now):
        return "sla_auto_paused" if availability and availability.reason == SLA_AUTO_PAUSED else "unavailable"
    if is_away_by_calendar(state.calendar.get(rep.id, ()), now):
        return "calendar"
    if rep.id in state.unreachable and (team is None or team.skip_unreachable):
        return "callback_unreachable"
    tz = ZoneInfo(rep.timezone)
    if team is not None and team.working_hours_only:
        hours = config.business_hours(team.id)
        if hours is not None and not is_within_hours(now, hours, tz, config.holidays(team.id)):
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
    context: LeadContext = NO_CONTEXT,
) -> tuple[Decision, RoutingState]:
    """Pick the rep for one lead (never ``exclude``d ones); return the new routing state beside it."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    trail = _Trail()
    account = _account(lead, config)
    if context is not NO_CONTEXT:
        trail.identity = context.identity()
        trail.match = context.match.to_dict()
        if context.match is not NO_MATCH:
            trail.notes.append(context.match.note)
    elif account is not None:
        trail.match = {"account_id": account.domain, "by": "named_account", "score": 1.0}
    if context.rejected_by:
        exclude = exclude | context.rejected_by
        trail.notes.append(
            f"returning person: reps who rejected them are skipped ({', '.join(sorted(context.rejected_by))})"
        )
    if account is not None:
        owner = config.rep(account.owner)
        team = config.team(account.team or config.home_team(owner.id))
        reason = skip_reason(owner, team, config, state, now, exclude)
        if reason is None:
            explanation = trail.explain(
                f"account:{account.domain}",
                "named_account",
                "named_account",
                f"named account {account.domain} belongs to {owner.id} (team {team.id})",
                owner.id,
                team.id,
            )
            return _assign(owner, team.id, explanation, config, state, now)
        trail.candidates.append(owner.id)
        trail.skipped.append(Skip(owner.id, reason))
        trail.notes.append(f"named account {account.domain}: owner {owner.id} skipped ({reason})")
    if context.sticky_rep is not None:
        sticky = _by_stickiness(context, config, state, now, exclude, trail)
        if sticky is not None:
            return sticky
    book_account = context.match.account
    view = lead if book_account is None else {**lead, "account": book_account.fields()}
    rule = next((rule for rule in config.rules if conditions.matches(rule.when, view)), None)
    if rule is not None and rule.account_owner:
        owned = _to_owner(rule, context.match, config, state, now, exclude, trail)
        if owned is not None:
            return owned
    return _route_by_rule(rule, config, state, now, exclude, trail)


def _by_stickiness(
    context: LeadContext,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    exclude: frozenset[str],
    trail: _Trail,
) -> tuple[Decision, RoutingState] | None:
    rep_id = context.sticky_rep
    if rep_id is None or rep_id not in config.rep_ids:
        return None
    team = config.team(config.home_team(rep_id))
    reason = skip_reason(config.rep(rep_id), team, config, state, now, exclude)
    where = f"account {context.match.account_id} has an open or accepted lead"
    if reason is not None:
        trail.candidates.append(rep_id)
        trail.skipped.append(Skip(rep_id, reason))
        trail.notes.append(f"{where} with {rep_id}, who cannot take it ({reason})")
        return None
    note = f"{where} ({context.sticky_assignment_id}) with {rep_id}: stickiness keeps the account with them"
    explanation = trail.explain("stickiness", "stickiness", "stickiness", note, rep_id, team.id)
    return _assign(config.rep(rep_id), team.id, explanation, config, state, now)


def _to_owner(
    rule: Rule,
    match: AccountMatch,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    exclude: frozenset[str],
    trail: _Trail,
) -> tuple[Decision, RoutingState] | None:
    """The account's owner, else the owner's cover; None: the rule's team decides."""
    owner = match.owner
    if owner is None or match.account is None:
        trail.notes.append(f"rule {rule.id} sends to the account owner, but the lead has no owned account")
        return None
    if owner not in config.rep_ids:
        trail.notes.append(f"owner {owner} of account {match.account_id} is not a rep of this config")
        return None
    chain = [("account_owner", owner)]
    cover = config.rep(owner).cover
    if cover is not None and cover in config.rep_ids:
        chain.append(("cover", cover))
    for matched_by, rep_id in chain:
        rep = config.rep(rep_id)
        team = config.team(config.home_team(rep_id))
        reason = skip_reason(rep, team, config, state, now, exclude)
        if reason is None:
            who = f"owner {owner}" if matched_by == "account_owner" else f"{rep_id}, cover of owner {owner}"
            note = f"rule {rule.id}: account {match.account_id} goes to {who}"
            explanation = trail.explain(rule.id, matched_by, matched_by, note, rep_id, team.id)  # type: ignore[arg-type]
            return _assign(rep, team.id, explanation, config, state, now)
        trail.candidates.append(rep_id)
        trail.skipped.append(Skip(rep_id, reason))
        trail.notes.append(
            f"{'owner' if matched_by == 'account_owner' else 'cover'} {rep_id} skipped ({reason})"
        )
    return None


@dataclass
class _Trail:
    """What route has tried so far, for the explanation."""

    candidates: list[str] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    teams_tried: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    match: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None

    def explain(
        self,
        rule_id: str,
        strategy: str | None,
        matched_by: MatchedBy,
        note: str,
        chosen: str | None = None,
        team_id: str | None = None,
    ) -> Explanation:
        candidates = [*self.candidates, chosen] if chosen is not None else self.candidates
        passed = ", ".join(f"{skip.rep_id} ({skip.reason})" for skip in self.skipped)
        summary = "; ".join([*self.notes, note, *([f"skipped {passed}"] if passed else [])])
        return Explanation(
            rule_id=rule_id,
            strategy=strategy,
            candidates=tuple(dict.fromkeys(candidates)),
            skipped=tuple(self.skipped),
            matched_by=matched_by,
            teams_tried=(*self.teams_tried, *([team_id] if team_id is not None else [])),
            summary=summary,
            match=self.match,
            identity=self.identity,
        )


def _route_by_rule(
    rule: Rule | None,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    exclude: frozenset[str],
    trail: _Trail,
) -> tuple[Decision, RoutingState]:
    rule_id = rule.id if rule is not None else "fallback"
    trail.notes.append(f"rule {rule_id} matched" if rule is not None else "no rule matched")
    team_ids = list(
        dict.fromkeys([*([rule.team] if rule is not None and rule.team else []), config.fallback_team])
    )
    for team_id in team_ids:
        team = config.team(team_id)
        chosen, rotation, skips = _choose(team, config, state, now, exclude)
        trail.candidates += team.members
        trail.skipped += skips
        if chosen is not None:
            matched_by: MatchedBy = "rule" if rule is not None and team_id == rule.team else "fallback"
            via = f"so fallback team {team_id}" if trail.teams_tried else f"team {team_id}"
            note = f"{via} ({team.strategy}) chose {chosen}"
            explanation = trail.explain(rule_id, team.strategy, matched_by, note, team_id=team_id)
            state = replace(state, rotation={**state.rotation, team_id: rotation})
            return _assign(config.rep(chosen), team_id, explanation, config, state, now)
        trail.notes.append(f"nobody in team {team_id} can take it")
        trail.teams_tried.append(team_id)
    explanation = trail.explain(rule_id, None, "none", "it waits in the unassigned queue")
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
            eligible.append((rep.id, rep.weight if team.strategy == "weighted_round_robin" else 1))
        else:
            skips.append(Skip(rep.id, reason))
    # Reps who left the team leave the rotation; those merely skipped keep their entry.
    rotation = {
        rep_id: value for rep_id, value in state.rotation.get(team.id, {}).items() if rep_id in team.members
    }
    if not eligible:
        return None, rotation, skips
    if team.strategy == "least_loaded":
        fewest = min(_open(state, rep_id) for rep_id, _ in eligible)
        eligible = [(rep_id, 1) for rep_id, _ in eligible if _open(state, rep_id) == fewest]
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
    new_load = RepLoad(open=load.open + 1, day=_local_day(now, tz), today=_today(load, now, tz) + 1)
    terms = config.sla_terms(team_id, rep)
    due = terms.due(now).astimezone(UTC)
    decision = Decision(rep.id, team_id, explanation.rule_id, explanation, due, terms, rep.manager)
    new_state = replace(state, load={**state.load, rep.id: new_load})
    return decision, new_state


def _today(load: RepLoad, now: datetime, tz: ZoneInfo) -> int:
    return load.today if load.day == _local_day(now, tz) else 0


@lru_cache(maxsize=1024)
def _local_day(now: datetime, tz: ZoneInfo) -> date:
    # The leads of a batch are routed at one ``now``: each rep's local day is worked out once.
    return local_day(now, tz)


def _open(state: RoutingState, rep_id: str) -> int:
    return state.load.get(rep_id, RepLoad()).open


def _account(lead: Mapping[str, Any], config: RoutingConfig) -> Account | None:
    if not config.accounts:
        return None
    company = lead.get("company")
    domain = company.get("domain") if isinstance(company, Mapping) else None
    if not isinstance(domain, str) or not domain.strip():
        email = lead.get("email")
        domain = email.rsplit("@", 1)[-1] if isinstance(email, str) and "@" in email else None
    return config.account_for(domain) if isinstance(domain, str) and domain else None
