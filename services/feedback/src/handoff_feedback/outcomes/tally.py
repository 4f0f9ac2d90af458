"""Counting: what one lead's state adds to each segment's window, and the figures of a window.

Every measure is counted in the window of its own moment: an MQL at its ``mql_at``, an
assignment at ``assigned_at``, an acceptance at ``accepted_at``, and so on; so a window's
acceptances are the decisions made in it. The exception is qualification: a lead's SQL or
disqualification counts in the window of its *acceptance* (a cohort), so a window's SQLs
are the accepted leads of that window that became SQLs, ``sqls + disqualified <=
accepted`` holds in every window and every sum of windows, and ``sal_to_sql_rate`` never
exceeds 1. Counted on the day it was made, one acceptance on Monday and two SQLs on
Tuesday (of leads accepted the week before) would give Tuesday a rate of 2. The price: a
late qualification changes the figures of the (older) window its lead was accepted in,
which is then published again. An assignment counts once its ``lead.assigned``
is known (a decision seen first waits for it). The stored aggregates are the sum of every
lead's contributions; a batch adds ``contributions(after) - contributions(before)`` of the
leads it touched, which is order-tolerant because the states are.

Percentiles are exact (linear interpolation between closest ranks, as numpy's default and
PostgreSQL's ``percentile_cont``), over the stored seconds-to-accept of the window: one
sample per acceptance, carrying the lead's segment values, so it serves every segment.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from handoff_feedback.outcomes.facts import LEVELS, Accepted, LeadState, Rejected
from handoff_feedback.outcomes.segments import ASSIGNMENT_DIMENSIONS, LEAD_DIMENSIONS, NONE, Dimension
from handoff_feedback.outcomes.segments import segment_key as key_of
from handoff_feedback.outcomes.windows import WindowKind, window_starts

# (dimension, segment key, window kind, window start (UTC), measure) -> count
CountKey = tuple[Dimension, str, WindowKind, datetime, str]
# An accepted assignment's id -> its sample
SampleKey = str


class Sample(NamedTuple):
    """One acceptance's seconds to accept, with the lead's segment values (``(none)`` for a
    missing one, as in segment keys): one sample per acceptance serves every segment."""

    accepted_at: datetime
    seconds: float
    source: str
    campaign: str
    team: str
    rep: str
    rule: str

    def segment(self, dimension: Dimension) -> str:
        """The sample's segment key in ``dimension`` (``source=webinar``)."""
        return _sample_segment(dimension, self.source, self.campaign, self.team, self.rep, self.rule)


@lru_cache(maxsize=65536)
def _sample_segment(dimension: Dimension, source: str, campaign: str, team: str, rep: str, rule: str) -> str:
    values = {"source": source, "campaign": campaign, "team": team, "rep": rep, "rule": rule}
    return key_of(dimension, values)


@dataclass(frozen=True)
class Contributions:
    counts: Counter[CountKey] = field(default_factory=Counter)
    samples: dict[SampleKey, Sample] = field(default_factory=dict)


Segments = tuple[tuple[Dimension, str], ...]


@lru_cache(maxsize=4096)
def _lead_segments(source: str | None, campaign: str | None) -> Segments:
    values = {"source": source, "campaign": campaign}
    return tuple((d, key_of(d, values)) for d in LEAD_DIMENSIONS)


@lru_cache(maxsize=16384)
def _own_segments(source: str | None, campaign: str | None, team: str, rep: str, rule: str) -> Segments:
    values = {"source": source, "campaign": campaign, "team": team, "rep": rep, "rule": rule}
    return tuple((d, key_of(d, values)) for d in ASSIGNMENT_DIMENSIONS)


def contributions(state: LeadState, tz: ZoneInfo) -> Contributions:
    """Every count and seconds-to-accept sample this lead adds to the aggregates."""
    counts: Counter[CountKey] = Counter()
    samples: dict[SampleKey, Sample] = {}
    add_contributions(state, tz, counts, samples)
    return Contributions(counts, samples)


def add_contributions(
    state: LeadState,
    tz: ZoneInfo,
    counts: dict[CountKey, int],
    samples: dict[SampleKey, Sample],
    sign: int = 1,
) -> None:
    """``contributions`` added into ``counts`` (``sign`` -1 takes them away) and ``samples``:
    a batch sums its leads' ``after - before`` in one dict, with no dict per lead."""
    lead = state.lead
    if lead is None:
        return
    lead_segments = _lead_segments(lead.source, lead.campaign)

    get = counts.get

    def count(segments: Iterable[tuple[Dimension, str]], at: datetime, measure: str) -> None:
        for kind, start in window_starts(at, tz):
            for dimension, key in segments:
                k = (dimension, key, kind, start, measure)
                counts[k] = get(k, 0) + sign

    count(lead_segments, lead.at, "mqls")
    for facts in state.assignments:
        assigned = facts.assigned
        if assigned is None:
            continue
        own = _own_segments(lead.source, lead.campaign, assigned.team_id, assigned.rep_id, assigned.rule_id)
        every = lead_segments + own
        count(every, assigned.at, "assigned")
        count(own, assigned.at, "mqls")
        for level in LEVELS:
            escalated = facts.escalation(level)
            if escalated is not None:
                count(every, escalated.at, f"escalated:{level}")
        decision = facts.decision
        if isinstance(decision, Accepted):
            count(every, decision.at, "accepted")
            samples[facts.assignment_id] = Sample(
                decision.at,
                decision.seconds_to_accept,
                lead.source or NONE,
                lead.campaign or NONE,
                assigned.team_id or NONE,
                assigned.rep_id or NONE,
                assigned.rule_id or NONE,
            )
            qualified = facts.qualified
            if qualified is not None:  # in the acceptance's window: see the module's docstring
                count(every, decision.at, "sqls" if qualified.outcome == "sql" else "disqualified")
                if qualified.outcome == "disqualified":
                    count(every, decision.at, f"disqualified:{qualified.reason or 'unspecified'}")
        elif isinstance(decision, Rejected):
            count(every, decision.at, "rejected")
            count(every, decision.at, f"rejected:{decision.reason}")
        elif decision is not None:
            count(every, decision.at, "expired")


@dataclass(frozen=True)
class Delta:
    """What a batch changes in the aggregates: count increments (maybe negative) and samples."""

    counts: dict[CountKey, int]
    added: dict[SampleKey, Sample]
    removed: list[SampleKey]


def delta(before: Contributions, after: Contributions) -> Delta:
    """``after - before``: what to add to the stored aggregates."""
    counts = dict(after.counts)
    for k, v in before.counts.items():
        counts[k] = counts.get(k, 0) - v
    added = {k: v for k, v in after.samples.items() if before.samples.get(k) != v}
    removed = [k for k in before.samples if k not in after.samples]
    return Delta({k: v for k, v in counts.items() if v}, added, removed)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The exact ``q`` quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rate(part: int, whole: int) -> float:
    """``part / whole``, 0.0 when there is no whole."""
    return part / whole if whole else 0.0


@dataclass(frozen=True)
class Tally:
    """The figures of one segment over one window (or several windows summed)."""

    mqls: int = 0
    assigned: int = 0
    accepted: int = 0
    rejected: int = 0
    expired: int = 0
    sqls: int = 0
    disqualified: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    disqualified_by_reason: dict[str, int] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    seconds_to_accept_p50: float | None = None
    seconds_to_accept_p90: float | None = None

    @property
    def decisions(self) -> int:
        return self.accepted + self.rejected

    @property
    def acceptance_rate(self) -> float:
        """accepted / (accepted + rejected)."""
        return rate(self.accepted, self.decisions)

    @property
    def sal_to_sql_rate(self) -> float:
        """sqls / accepted: of the leads accepted in the window, the share that became SQLs."""
        return rate(self.sqls, self.accepted)

    @property
    def is_consistent(self) -> bool:
        """No negative count, and no more qualifications than acceptances (so every rate is in
        [0, 1]). False only for aggregates counted by an older definition: rebuild them."""
        counts = [self.mqls, self.assigned, self.accepted, self.rejected, self.expired, self.sqls]
        counts += [self.disqualified, *self.rejected_by_reason.values(), *self.escalations.values()]
        counts += self.disqualified_by_reason.values()
        return min(counts) >= 0 and self.sqls + self.disqualified <= self.accepted


def tally_of(
    counts: Mapping[str, int],
    seconds: Sequence[float] = (),
    *,
    percentiles: tuple[float | None, float | None] | None = None,
) -> Tally:
    """A window's figures from its measures (``accepted``, ``rejected:spam``, ...) and its
    seconds-to-accept samples, or their p50 and p90 worked out already (by the database)."""
    p50, p90 = (
        percentiles if percentiles is not None else (percentile(seconds, 0.5), percentile(seconds, 0.9))
    )

    def by_prefix(prefix: str) -> dict[str, int]:
        return {name[len(prefix) :]: n for name, n in sorted(counts.items()) if name.startswith(prefix) and n}

    return Tally(
        mqls=counts.get("mqls", 0),
        assigned=counts.get("assigned", 0),
        accepted=counts.get("accepted", 0),
        rejected=counts.get("rejected", 0),
        expired=counts.get("expired", 0),
        sqls=counts.get("sqls", 0),
        disqualified=counts.get("disqualified", 0),
        rejected_by_reason=by_prefix("rejected:"),
        disqualified_by_reason=by_prefix("disqualified:"),
        escalations={level: counts.get(f"escalated:{level}", 0) for level in LEVELS},
        seconds_to_accept_p50=p50,
        seconds_to_accept_p90=p90,
    )
