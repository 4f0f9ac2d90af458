"""Fair rotation inside a team: smooth weighted round robin (nginx's algorithm).

Each member has a *current* value. To pick, every eligible member's current grows by its
weight; the largest current wins (ties: the order of the team's members) and loses the
sum of the eligible weights. Over any run of ``sum(weights)`` picks each member is chosen
exactly ``weight`` times, interleaved rather than in bursts (3:1 gives a, a, b, a).

A skipped member (at a cap, unavailable...) takes no part in a pick: its current neither
grows nor shrinks. It therefore keeps its place, neither punished for being away nor
handed a burst of catch-up leads on its return. ``round_robin`` is the same with every
weight 1.
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
