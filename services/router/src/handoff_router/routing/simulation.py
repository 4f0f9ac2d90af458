"""What-if: spread a list of leads over a configuration and compare two such spreads. No I/O.

Leads are routed in turn at one moment and none is decided meanwhile, so caps fill up
as they would on a busy day; pass the live state to start from today's loads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import NO_CONTEXT, LeadContext, RoutingState, route
from handoff_router.routing.identity import keys_of
from handoff_router.routing.matching import AccountIndex, match_account


@dataclass(frozen=True)
class SimulationReport:
    """How many leads each rep, team and rule would get, and how many would wait."""

    leads: int
    by_rep: Mapping[str, int]
    by_team: Mapping[str, int]
    by_rule: Mapping[str, int]
    queued: int
    choices: tuple[str | None, ...]
    by_match: Mapping[str, int] = field(default_factory=dict)  # named_account, rule, fallback, none

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON (the per-lead choices left out)."""
        return {
            "leads": self.leads,
            "by_rep": dict(sorted(self.by_rep.items())),
            "by_team": dict(sorted(self.by_team.items())),
            "by_rule": dict(sorted(self.by_rule.items())),
            "queued": self.queued,
            "by_match": dict(sorted(self.by_match.items())),
        }


@dataclass(frozen=True)
class Difference:
    """Candidate minus active, per rep, team and rule; and how many leads change rep."""

    by_rep: Mapping[str, int]
    by_team: Mapping[str, int]
    by_rule: Mapping[str, int]
    queued: int
    leads_moved: int
    by_match: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The differences as JSON; keys that did not change are left out."""
        return {
            "by_rep": dict(sorted(self.by_rep.items())),
            "by_team": dict(sorted(self.by_team.items())),
            "by_rule": dict(sorted(self.by_rule.items())),
            "queued": self.queued,
            "leads_moved": self.leads_moved,
            "by_match": dict(sorted(self.by_match.items())),
        }


def context_of(lead: Mapping[str, Any], config: RoutingConfig, index: AccountIndex | None) -> LeadContext:
    """The account and person of a lead with no history: what previews and simulations route with."""
    if index is None:
        return NO_CONTEXT
    return LeadContext(match=match_account(lead, config, index), person_key=keys_of(lead).person_key)


def simulate(
    leads: Iterable[Mapping[str, Any]],
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    index: AccountIndex | None = None,
) -> SimulationReport:
    """Route every lead in turn from ``state``, as if none were decided meanwhile; with an account
    ``index``, each lead is matched to its account first."""
    by_rep: Counter[str] = Counter()
    by_team: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    by_match: Counter[str] = Counter()
    choices: list[str | None] = []
    queued = 0
    for lead in leads:
        decision, state = route(lead, config, state, now, context=context_of(lead, config, index))
        choices.append(decision.rep_id)
        by_rule[decision.rule_id] += 1
        by_match[decision.explanation.matched_by] += 1
        if decision.rep_id is None or decision.team_id is None:
            queued += 1
            continue
        by_rep[decision.rep_id] += 1
        by_team[decision.team_id] += 1
    return SimulationReport(
        len(choices), dict(by_rep), dict(by_team), dict(by_rule), queued, tuple(choices), dict(by_match)
    )


def compare(active: SimulationReport, candidate: SimulationReport) -> Difference:
    """What would change if ``candidate`` replaced ``active`` for the same leads."""

    def delta(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
        return {
            key: b.get(key, 0) - a.get(key, 0) for key in set(a) | set(b) if b.get(key, 0) != a.get(key, 0)
        }

    moved = sum(
        1 for before, after in zip(active.choices, candidate.choices, strict=False) if before != after
    )
    return Difference(
        delta(active.by_rep, candidate.by_rep),
        delta(active.by_team, candidate.by_team),
        delta(active.by_rule, candidate.by_rule),
        candidate.queued - active.queued,
        moved,
        delta(active.by_match, candidate.by_match),
    )


def what_if(
    leads: Sequence[Mapping[str, Any]],
    active: RoutingConfig | None,
    candidate: RoutingConfig | None,
    state: RoutingState,
    now: datetime,
    index: AccountIndex | None = None,
) -> dict[str, Any]:
    """The spread of ``leads`` under the active config and a candidate (either may be absent),
    and the difference when both are there: what the API's and the CLI's simulate answer."""
    result: dict[str, Any] = {"leads": len(leads)}
    current = simulate(leads, active, state, now, index) if active is not None else None
    if current is not None:
        result["active"] = current.to_dict()
    if candidate is not None:
        proposed = simulate(leads, candidate, state, now, index)
        result["candidate"] = proposed.to_dict()
        if current is not None:
            result["difference"] = compare(current, proposed).to_dict()
    return result
