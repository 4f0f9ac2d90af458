"""SAL -> SQL (CONTRACT §9): what an accepted lead became, and whether a rep's report of it
can be recorded. Pure: no I/O, no clock; the service reads the row, asks, and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

Outcome = Literal["sql", "disqualified"]


@dataclass(frozen=True)
class Qualification:
    """A rep's report on an accepted lead: ``sql``, or ``disqualified`` with a reason code."""

    outcome: Outcome
    reason: str | None = None
    note: str | None = None

    def same_as(self, other: Qualification) -> bool:
        """The same report: outcome, reason and note (blank notes count as none)."""
        mine = (self.outcome, self.reason, _text(self.note))
        return mine == (other.outcome, other.reason, _text(other.note))


@dataclass(frozen=True)
class QualificationProblem:
    """Why the body cannot be a qualification; ``allowed`` lists the reason codes when one is wrong."""

    message: str
    allowed: tuple[str, ...] = ()


class Verdict(Enum):
    """What to do with a valid qualification of an assignment in a given state."""

    RECORD = "record"  # accepted and not yet qualified
    REPEAT = "repeat"  # the same qualification again: answer it, emit nothing


@dataclass(frozen=True)
class Conflict:
    """The qualification cannot be recorded: not accepted (yet), or qualified otherwise before."""

    message: str


def check_qualification(asked: Qualification, reasons: Sequence[str]) -> QualificationProblem | None:
    """What is wrong with ``asked`` under the configured ``disqualification_reasons``, or None."""
    allowed = tuple(reasons)
    if asked.outcome == "sql":
        if asked.reason is not None:
            return QualificationProblem(
                f"outcome 'sql' takes no reason (reason codes are for 'disqualified'); got {asked.reason!r}"
            )
        return None
    if asked.reason is None:
        return QualificationProblem(
            f"outcome 'disqualified' needs a reason; expected one of: {', '.join(allowed)}", allowed
        )
    if asked.reason not in allowed:
        return QualificationProblem(
            f"unknown reason {asked.reason!r}; expected one of: {', '.join(allowed)}", allowed
        )
    if asked.reason == "other" and _text(asked.note) is None:
        return QualificationProblem("reason 'other' needs a note saying why")
    return None


def judge(status: str, recorded: Qualification | None, asked: Qualification) -> Verdict | Conflict:
    """Whether the assigned rep's qualification of an assignment in ``status`` is recorded,
    answered as a repeat, or refused: only accepted leads are qualified, and only once."""
    if status != "accepted":
        before = "it is not accepted yet" if status == "pending" else f"it is {status}, not accepted"
        return Conflict(f"only an accepted lead can be qualified; {before}")
    if recorded is None:
        return Verdict.RECORD
    if recorded.same_as(asked):
        return Verdict.REPEAT
    said = recorded.outcome + (f" ({recorded.reason})" if recorded.reason else "")
    return Conflict(f"already qualified as {said}; a qualification is not changed once recorded")


def seconds_since_accept(accepted_at: datetime, qualified_at: datetime) -> float:
    """From acceptance to qualification, never negative (clocks of replicas may differ a little)."""
    return max((qualified_at - accepted_at).total_seconds(), 0.0)


def _text(note: str | None) -> str | None:
    return note if note is not None and note.strip() else None
