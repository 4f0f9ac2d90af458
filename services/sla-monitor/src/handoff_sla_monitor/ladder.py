"""The escalation ladder, pure: (timer, calendar, now) -> the steps to fire and the next fire time.

No I/O, no clock: ``now`` is always given. A step at ``p%`` fires when ``p%`` of the SLA has
elapsed on the assignment's business calendar (wall time when it has no business hours),
so a 4h SLA with a 50% reminder reminds after two working hours.

Catch-up: a timer found past several steps (the monitor was down, or the scanner behind)
fires each of them, once, in order, in one go. ``reassign`` ends a timer: the lead moves to
another rep, whose new assignment starts a timer of its own, so steps after it never fire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from handoff_shared.business_time import BusinessCalendar

Level = Literal["remind", "escalate", "reassign"]
LEVELS: tuple[Level, ...] = ("remind", "escalate", "reassign")


@dataclass(frozen=True)
class LadderStep:
    """At ``percent`` of the SLA elapsed, ``level``."""

    percent: float
    level: Level


DEFAULT_LADDER = (LadderStep(50, "remind"), LadderStep(100, "escalate"), LadderStep(150, "reassign"))


@dataclass(frozen=True)
class PlannedStep:
    """One step of one timer: its place in the ladder and when it fires."""

    index: int
    level: Level
    percent: float
    fire_at: datetime


@dataclass(frozen=True)
class TimerState:
    """A timer's plan and how far it has got: steps before ``next_step`` have fired."""

    steps: tuple[PlannedStep, ...]
    next_step: int = 0

    @property
    def next_fire_at(self) -> datetime | None:
        """When the next step fires; None when none is left."""
        return self.steps[self.next_step].fire_at if self.next_step < len(self.steps) else None

    @property
    def is_finished(self) -> bool:
        """True when no step is left to fire."""
        return self.next_step >= len(self.steps)


def plan(
    assigned_at: datetime, accept_within: timedelta, calendar: BusinessCalendar, ladder: Sequence[LadderStep]
) -> tuple[PlannedStep, ...]:
    """The fire time of each step, in ladder order; steps after the first ``reassign`` are dropped."""
    planned: list[PlannedStep] = []
    for index, step in enumerate(sorted(ladder, key=lambda step: step.percent)):
        fire_at = calendar.add(assigned_at, accept_within * (step.percent / 100))
        planned.append(PlannedStep(index, step.level, step.percent, fire_at))
        if step.level == "reassign":
            break
    return tuple(planned)


def fire(state: TimerState, now: datetime) -> tuple[tuple[PlannedStep, ...], TimerState]:
    """The steps whose time has come (each once, in order) and the state after them."""
    fired: list[PlannedStep] = []
    index = state.next_step
    while index < len(state.steps) and state.steps[index].fire_at <= now:
        fired.append(state.steps[index])
        index += 1
    if fired and fired[-1].level == "reassign":
        index = len(state.steps)
    return tuple(fired), TimerState(state.steps, index)


def overdue_seconds(sla_due_at: datetime, now: datetime) -> float:
    """How late the decision is at ``now``, in real seconds (negative before the deadline)."""
    return (now - sla_due_at).total_seconds()
