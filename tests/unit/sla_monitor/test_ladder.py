"""The escalation ladder: fire times on the business calendar, each step once and in order."""

from __future__ import annotations

import ast
import itertools
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import handoff_sla_monitor.ladder
from handoff_shared.business_time import BusinessCalendar, BusinessHours
from handoff_sla_monitor.ladder import (
    DEFAULT_LADDER,
    LadderStep,
    PlannedStep,
    TimerState,
    fire,
    overdue_seconds,
    plan,
)
from hypothesis import given, settings
from hypothesis import strategies as st

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = BusinessHours(time(9), time(17), frozenset(range(5)))
OFFICE = BusinessCalendar(NEW_YORK, WEEKDAYS, ("US",))
WALL = BusinessCalendar(ZoneInfo("UTC"))
FRIDAY_4PM = datetime(2026, 11, 20, 16, tzinfo=NEW_YORK)


def test_steps_fire_at_their_share_of_business_time() -> None:
    steps = plan(FRIDAY_4PM, timedelta(hours=4), OFFICE, DEFAULT_LADDER)
    local = [(step.level, step.fire_at.astimezone(NEW_YORK)) for step in steps]
    assert local == [
        ("remind", datetime(2026, 11, 23, 10, tzinfo=NEW_YORK)),  # 1h on Friday, 1h on Monday
        ("escalate", datetime(2026, 11, 23, 12, tzinfo=NEW_YORK)),  # the deadline
        ("reassign", datetime(2026, 11, 23, 14, tzinfo=NEW_YORK)),
    ]
    assert OFFICE.add(FRIDAY_4PM, timedelta(hours=4)) == steps[1].fire_at  # 100%: the deadline


def test_nothing_fires_before_its_time_and_each_step_fires_once_in_order() -> None:
    state = TimerState(plan(FRIDAY_4PM, timedelta(hours=4), OFFICE, DEFAULT_LADDER))
    fired, state = fire(state, datetime(2026, 11, 23, 9, 59, tzinfo=NEW_YORK))
    assert fired == ()
    fired, state = fire(state, datetime(2026, 11, 23, 10, tzinfo=NEW_YORK))
    assert [step.level for step in fired] == ["remind"]
    fired, state = fire(state, datetime(2026, 11, 23, 10, 30, tzinfo=NEW_YORK))
    assert fired == ()
    assert state.next_fire_at == datetime(2026, 11, 23, 12, tzinfo=NEW_YORK)


def test_a_timer_found_late_catches_up_every_step_in_order_once() -> None:
    state = TimerState(plan(FRIDAY_4PM, timedelta(hours=4), OFFICE, DEFAULT_LADDER))
    fired, state = fire(state, datetime(2026, 12, 1, tzinfo=UTC))
    assert [step.level for step in fired] == ["remind", "escalate", "reassign"]
    assert state.is_finished
    assert state.next_fire_at is None
    assert fire(state, datetime(2027, 1, 1, tzinfo=UTC))[0] == ()


def test_reassign_ends_the_ladder() -> None:
    ladder = [LadderStep(100, "reassign"), LadderStep(50, "remind"), LadderStep(200, "escalate")]
    steps = plan(FRIDAY_4PM, timedelta(hours=1), WALL, ladder)
    assert [(step.index, step.level) for step in steps] == [(0, "remind"), (1, "reassign")]


def test_a_ladder_without_reassign_finishes_after_its_last_step() -> None:
    steps = plan(FRIDAY_4PM, timedelta(minutes=10), WALL, [LadderStep(100, "escalate")])
    fired, state = fire(TimerState(steps), FRIDAY_4PM + timedelta(hours=1))
    assert [step.level for step in fired] == ["escalate"]
    assert state.is_finished


def test_overdue_seconds_are_negative_before_the_deadline() -> None:
    due = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert overdue_seconds(due, due - timedelta(minutes=5)) == -300
    assert overdue_seconds(due, due + timedelta(seconds=90)) == 90


ZONES = st.sampled_from([ZoneInfo("UTC"), NEW_YORK, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")])
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis attaches the timezone
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
PERCENTS = st.lists(st.integers(1, 400), min_size=1, max_size=5, unique=True)
LEVELS = st.sampled_from(["remind", "escalate", "reassign"])


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    tz = draw(ZONES)
    if draw(st.booleans()):
        return BusinessCalendar(tz)
    return BusinessCalendar(tz, WEEKDAYS, draw(st.sampled_from([(), ("US",), ("DE", "US")])))


@given(MOMENTS, st.integers(1, 7 * 24 * 60), calendars(), PERCENTS, st.lists(LEVELS, min_size=5, max_size=5))
@settings(max_examples=200, deadline=None)
def test_the_ladders_fire_times_are_ordered(
    start: datetime, minutes: int, calendar: BusinessCalendar, percents: list[int], levels: list[str]
) -> None:
    ladder = [LadderStep(percent, level) for percent, level in zip(percents, levels, strict=False)]  # type: ignore[arg-type]
    steps = plan(start, timedelta(minutes=minutes), calendar, ladder)
    assert [step.index for step in steps] == list(range(len(steps)))
    assert all(earlier.fire_at < later.fire_at for earlier, later in itertools.pairwise(steps))
    assert all(step.fire_at > start for step in steps)


@given(
    MOMENTS, st.integers(1, 3 * 24 * 60), calendars(), st.lists(st.integers(0, 10 * 24 * 3600), max_size=12)
)
@settings(max_examples=200, deadline=None)
def test_any_sequence_of_scans_fires_each_due_step_once_in_order(
    start: datetime, minutes: int, calendar: BusinessCalendar, offsets: list[int]
) -> None:
    state = TimerState(plan(start, timedelta(minutes=minutes), calendar, DEFAULT_LADDER))
    fired_all: list[PlannedStep] = []
    for offset in sorted(offsets):
        fired, state = fire(state, start + timedelta(seconds=offset))
        fired_all.extend(fired)
    last = start + timedelta(seconds=max(offsets, default=0))
    expected = [step for step in state.steps if step.fire_at <= last]
    assert fired_all == expected


def test_the_ladder_module_is_pure() -> None:
    tree = ast.parse(Path(handoff_sla_monitor.ladder.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported <= {
        "__future__",
        "collections.abc",
        "dataclasses",
        "datetime",
        "typing",
        "handoff_shared.business_time",
    }
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not {call for call in calls if call.endswith((".now", ".utcnow", ".today")) or call == "open"}
