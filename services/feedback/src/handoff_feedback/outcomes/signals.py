"""Rep quality signals: a rep whose decisions differ from their team's beyond chance.

Each rep is compared with the rest of their team (the team's leads without the rep's) over
the same window, so the leads are comparable: the same rules routed them to the same team.

- ``high_rejection``: the rep rejects far more often than the rest of the team (cherry-
  picking, or a territory routed to the wrong rep). Fisher's exact test, one-sided
  (the rep's rejection odds greater), on the 2x2 table rejected/accepted x rep/rest.
- ``rubber_stamp``: the rep accepts nearly everything (at least ``rubber_stamp_acceptance``)
  while their SAL -> SQL rate is far below the rest's. Fisher's exact test, one-sided
  (the rep's SQL odds smaller), on sql/not-sql of accepted leads x rep/rest.

Fisher's exact test is exact for small counts, where a two-proportion z-test is not. Its
one-sided p-value is a hypergeometric tail, summed here (``fisher_one_sided``) rather than
taken from SciPy, whose ``scipy.stats`` import alone costs the service about 100 MB of
memory; a property test holds it to ``scipy.stats.fisher_exact`` (SciPy stays a test
dependency). A
signal needs at least ``min_sample`` decisions (or accepted leads) for the rep and for the
rest of the team, and ``p < alpha``: tiny numbers never flag. Each signal carries its
evidence: the counts, both rates and the p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SignalKind = Literal["high_rejection", "rubber_stamp"]


@dataclass(frozen=True)
class SignalPolicy:
    alpha: float = 0.01
    min_sample: int = 20
    rubber_stamp_acceptance: float = 0.9


@dataclass(frozen=True)
class Counts:
    """Decisions and qualifications of a rep, or of the rest of their team, over a window."""

    accepted: int = 0
    rejected: int = 0
    sqls: int = 0

    @property
    def decisions(self) -> int:
        return self.accepted + self.rejected

    @property
    def rejection_rate(self) -> float:
        return self.rejected / self.decisions if self.decisions else 0.0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.decisions if self.decisions else 0.0

    @property
    def sal_to_sql_rate(self) -> float:
        return self.sqls / self.accepted if self.accepted else 0.0

    @property
    def is_consistent(self) -> bool:
        """No negative count and no more SQLs than acceptances: a 2x2 table Fisher can test."""
        return min(self.accepted, self.rejected, self.sqls) >= 0 and self.sqls <= self.accepted

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.accepted + other.accepted, self.rejected + other.rejected, self.sqls + other.sqls)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.accepted - other.accepted, self.rejected - other.rejected, self.sqls - other.sqls)


@dataclass(frozen=True)
class Evidence:
    test: str
    rep: Counts
    rest_of_team: Counts
    rep_rate: float
    rest_rate: float
    p_value: float


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    flagged: bool
    evidence: Evidence | None  # None: too few leads to test
    why: str


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_one_sided(table: Sequence[Sequence[int]], alternative: Literal["greater", "less"]) -> float:
    """Fisher's exact test of the 2x2 ``table`` ``[[a, b], [c, d]]``, one-sided: the chance,
    with the margins fixed, of a top-left count at least (``greater``) or at most (``less``)
    ``a``: a tail of the hypergeometric distribution of ``a + b + c + d`` items, ``a + b``
    of them drawn, ``a + c`` of them marked (``scipy.stats.fisher_exact``'s p-value)."""
    (a, b), (c, d) = table
    total, drawn, marked = a + b + c + d, a + b, a + c
    low, high = max(0, drawn - (total - marked)), min(marked, drawn)
    tail = range(a, high + 1) if alternative == "greater" else range(low, a + 1)
    whole = _log_comb(total, drawn)
    terms = [math.exp(_log_comb(marked, k) + _log_comb(total - marked, drawn - k) - whole) for k in tail]
    return min(1.0, math.fsum(terms))


def high_rejection(rep: Counts, rest: Counts, policy: SignalPolicy) -> Signal:
    """Does the rep reject far more than the rest of the team?"""
    if rep.decisions < policy.min_sample or rest.decisions < policy.min_sample:
        return Signal(
            "high_rejection",
            False,
            None,
            f"too few decisions to test (rep {rep.decisions}, rest of team {rest.decisions};"
            f" {policy.min_sample} each needed)",
        )
    table = [[rep.rejected, rep.accepted], [rest.rejected, rest.accepted]]
    p_value = fisher_one_sided(table, "greater")
    evidence = Evidence(
        "fisher_exact_one_sided_greater", rep, rest, rep.rejection_rate, rest.rejection_rate, p_value
    )
    flagged = p_value < policy.alpha
    why = (
        f"rejects {rep.rejection_rate:.0%} of {rep.decisions} vs the team's {rest.rejection_rate:.0%}"
        f" of {rest.decisions} (Fisher p={p_value:.2g})"
    )
    return Signal("high_rejection", flagged, evidence, why)


def rubber_stamp(rep: Counts, rest: Counts, policy: SignalPolicy) -> Signal:
    """Does the rep accept nearly everything while few of their leads become SQLs?"""
    if rep.accepted < policy.min_sample or rest.accepted < policy.min_sample:
        return Signal(
            "rubber_stamp",
            False,
            None,
            f"too few accepted leads to test (rep {rep.accepted}, rest of team {rest.accepted};"
            f" {policy.min_sample} each needed)",
        )
    table = [[rep.sqls, rep.accepted - rep.sqls], [rest.sqls, rest.accepted - rest.sqls]]
    p_value = fisher_one_sided(table, "less")
    evidence = Evidence(
        "fisher_exact_one_sided_less", rep, rest, rep.sal_to_sql_rate, rest.sal_to_sql_rate, p_value
    )
    flagged = rep.acceptance_rate >= policy.rubber_stamp_acceptance and p_value < policy.alpha
    why = (
        f"accepts {rep.acceptance_rate:.0%}; {rep.sal_to_sql_rate:.0%} of {rep.accepted} accepted became SQLs"
        f" vs the team's {rest.sal_to_sql_rate:.0%} of {rest.accepted} (Fisher p={p_value:.2g})"
    )
    return Signal("rubber_stamp", flagged, evidence, why)


def signals_of(rep: Counts, team: Counts, policy: SignalPolicy) -> list[Signal]:
    """Both signals of a rep against the rest of their team (``team`` includes the rep)."""
    rest = team - rep
    if not (rep.is_consistent and rest.is_consistent):
        # Only aggregates counted by an older definition (SQLs on the day qualified) get here;
        # ``handoff-feedback rebuild`` recounts them. Never a 500 for the whole report.
        why = f"inconsistent counts (rep {rep}, rest of team {rest}): rebuild the aggregates"
        return [Signal("high_rejection", False, None, why), Signal("rubber_stamp", False, None, why)]
    return [high_rejection(rep, rest, policy), rubber_stamp(rep, rest, policy)]
