"""Reading timers for people: one timer, and what is overdue now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_sla_monitor.timers import repository
from handoff_sla_monitor.timers.errors import TimerNotFound
from handoff_sla_monitor.timers.records import steps_of
from handoff_sla_monitor.timers.schemas import (
    OverdueGroup,
    OverdueReport,
    OverdueTeam,
    OverdueTimer,
    StepView,
    TimerView,
)


@dataclass
class TimerReports:
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]

    async def timer(self, assignment_id: str) -> TimerView:
        """An assignment's timer with each step's state."""
        now = self.clock()
        async with self.sessions() as session:
            row = await repository.timer(session, assignment_id)
            if row is None:
                raise TimerNotFound(f"no SLA timer for assignment {assignment_id}")
            fired = {
                step.step: step.fired_at for step in await repository.fired_steps(session, assignment_id)
            }
        steps = []
        for step in steps_of(row.steps):
            if step.index in fired:
                state = "fired"
            elif row.status != "open" or step.index < row.next_step:
                state = "cancelled"
            else:
                state = "due" if step.fire_at <= now else "pending"
            steps.append(
                StepView(
                    step=step.index,
                    level=step.level,
                    percent=step.percent,
                    fire_at=step.fire_at,
                    state=state,
                    fired_at=fired.get(step.index),
                )
            )
        overdue = (now - row.sla_due_at).total_seconds() if row.sla_due_at and row.status == "open" else None
        return TimerView(
            assignment_id=row.assignment_id,
            lead_id=row.lead_id,
            rep_id=row.rep_id,
            team_id=row.team_id,
            manager_id=row.manager_id,
            attempt=row.attempt,
            status=row.status,
            assigned_at=row.assigned_at,
            sla_due_at=row.sla_due_at,
            overdue_seconds=overdue,
            next_fire_at=row.next_fire_at,
            closed_at=row.closed_at,
            steps=steps,
        )

    async def overdue(self, limit: int) -> OverdueReport:
        """What is overdue now, by team and rep, oldest first."""
        now = self.clock()
        async with self.sessions() as session:
            # One snapshot for both reads: a timer committed between them would be listed
            # without being counted (or counted without being listed).
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            groups = await repository.overdue_counts(session, now)
            rows = await repository.overdue(session, now, limit)
        teams: dict[str | None, OverdueTeam] = {}
        for group in groups:
            team = teams.get(group.team_id)
            if team is None:
                teams[group.team_id] = OverdueTeam(
                    team_id=group.team_id, overdue=group.overdue, oldest_due_at=group.oldest_due_at
                )
            else:
                team.overdue += group.overdue
        return OverdueReport(
            as_of=now,
            total=sum(group.overdue for group in groups),
            by_team=sorted(teams.values(), key=lambda team: team.oldest_due_at),
            by_rep=[
                OverdueGroup(
                    team_id=group.team_id,
                    rep_id=group.rep_id,
                    overdue=group.overdue,
                    oldest_due_at=group.oldest_due_at,
                )
                for group in groups
            ],
            timers=[
                OverdueTimer(
                    assignment_id=row.assignment_id,
                    lead_id=row.lead_id,
                    rep_id=row.rep_id,
                    team_id=row.team_id,
                    manager_id=row.manager_id,
                    attempt=row.attempt,
                    sla_due_at=row.sla_due_at,
                    overdue_seconds=(now - row.sla_due_at).total_seconds(),
                    steps_fired=row.next_step,
                )
                for row in rows
            ],
        )
