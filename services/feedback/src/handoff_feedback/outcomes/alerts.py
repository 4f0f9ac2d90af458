"""Acceptance alerts: a segment's acceptance rate crossing a threshold, and coming back.

Each segment has two alerts, ``below`` and ``above``, each ``firing`` or not. A window with
fewer than ``min_decisions`` decisions says nothing and changes nothing. A window under
``acceptance_below`` fires ``below`` once (not again while it stays under); the first
window back at or over the threshold resolves it. ``above`` mirrors it over
``acceptance_above``. A window older than the last one judged is ignored, so a late event
for last week does not flip today's alert.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

Direction = Literal["below", "above"]
AlertState = Literal["firing", "resolved"]


@dataclass(frozen=True)
class AlertRule:
    acceptance_below: float = 0.5
    acceptance_above: float = 0.9
    min_decisions: int = 20


@dataclass(frozen=True)
class SegmentAlerts:
    """Whether each alert of a segment is firing, and the latest window judged."""

    below: bool = False
    above: bool = False
    judged_window: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """An alert that fired or resolved: one ``scoring.acceptance_alert``."""

    direction: Direction
    state: AlertState
    threshold: float
    acceptance_rate: float
    decisions: int


def judge(
    rule: AlertRule, alerts: SegmentAlerts, window_start: datetime, accepted: int, rejected: int
) -> tuple[SegmentAlerts, list[Transition]]:
    """The segment's alerts after one window's figures, and what changed."""
    decisions = accepted + rejected
    if alerts.judged_window is not None and window_start < alerts.judged_window:
        return alerts, []
    if decisions < rule.min_decisions:
        return alerts, []
    rate = accepted / decisions
    changes: list[Transition] = []
    below = rate < rule.acceptance_below
    if below != alerts.below:
        changes.append(
            Transition("below", "firing" if below else "resolved", rule.acceptance_below, rate, decisions)
        )
    above = rate > rule.acceptance_above
    if above != alerts.above:
        changes.append(
            Transition("above", "firing" if above else "resolved", rule.acceptance_above, rate, decisions)
        )
    return replace(alerts, below=below, above=above, judged_window=window_start), changes
