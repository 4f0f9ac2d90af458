"""Fair rotation inside a team: smooth weighted round robin (nginx's algorithm).

Each member has a *current* value (the state, per team: rep id -> int). To pick, every
eligible member's current grows by its weight; the largest current wins (ties: the
order of the team's members) and loses the sum of the eligible weights. With everyone
eligible, each run of ``sum(weights)`` picks gives each member exactly ``weight`` leads,
interleaved rather than in bursts (3:1 gives a, a, b, a, and the currents are back at
zero), and at any moment a member's count is within one lead of its exact share (checked
exhaustively for teams of up to five with weights up to 6; for big teams with very
uneven weights the gap can slightly pass one, e.g. 1.01 for weights 29, 2, 21, 29, 2).

A skipped member (at a cap, unavailable, outside hours...) takes no part in a pick: its
current neither grows nor shrinks, exactly as nginx treats a peer that is down. So:
- it keeps its place: if it was next, it is next again as soon as it is back;
- it is not over-compensated: an absence, however long, earns no credit, so it never
  returns to a burst of catch-up leads (at most the one turn it was owed);
- the others are not penalised for covering: the eligible members run their own
  rotation meanwhile.
The currents of a team always sum to zero and each stays below the sum of the weights,
so after any history of absences, every whole cycle with everyone present gives each
member its weight give or take one lead (property-tested). A rep joining at zero starts
in the middle of the queue; a rep leaving the team leaves the rotation.
The alternative of letting skipped members accrue weight would hand a rep back from a
week off a run of leads in a row; resetting them would send them to the back. Neither
is what a team calls fair. ``round_robin`` is the same with every weight 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TeamRotation = Mapping[str, int]


def pick(eligible: Sequence[tuple[str, int]], rotation: TeamRotation) -> tuple[str, dict[str, int]]:
    """Choose among ``(rep_id, weight)`` pairs (in team order); answer the rep and the new rotation."""
    if not eligible:
        raise ValueError("nobody to pick from")
    total = sum(weight for _, weight in eligible)
    current = dict(rotation)
    best: str | None = None
    for rep_id, weight in eligible:
        current[rep_id] = current.get(rep_id, 0) + weight
        if best is None or current[rep_id] > current[best]:
            best = rep_id
    assert best is not None
    current[best] -= total
    return best, current


def rotation_to_json(rotation: Mapping[str, TeamRotation]) -> dict[str, dict[str, int]]:
    """The rotation of every team as plain JSON."""
    return {team: dict(values) for team, values in rotation.items()}


def rotation_from_json(data: Mapping[str, Any]) -> dict[str, TeamRotation]:
    """Read what ``rotation_to_json`` wrote."""
    return {
        str(team): {str(rep): int(value) for rep, value in values.items()} for team, values in data.items()
    }
