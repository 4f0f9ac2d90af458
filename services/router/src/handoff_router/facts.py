"""The facts features of the router publish and the questions they ask one another, as plain
data. This module belongs to no feature: a feature imports it, never another feature, and the
composition root (``bootstrap.py``) wires each fact to its handlers and each question to the
feature that answers it.

A fact says what happened, in the past tense, inside the unit of work that made it happen
(``LeadsAssigned``, ``AssignmentsDecided``, ``EscalationsReceived``, ``ConfigApplied``...).
A new fact (a rep offboarded, a person re-engaged) is a new frozen dataclass here; the feature
that makes it happen publishes it, and the root wires who acts on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from handoff_shared.cloudevents import CloudEvent

from handoff_router.bus import Question
from handoff_router.context import ConfigVersion
from handoff_router.event_views import Escalation
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import Decision, LeadContext, RoutingState
from handoff_router.routing.matching import AccountIndex
from handoff_router.routing.problems import Problem

# Facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assigned:
    """One lead given to one rep: the ``assignments`` row as written and its ``lead.assigned``."""

    row: Mapping[str, Any]
    event: CloudEvent
    body: bytes  # the event exactly as published (its outbox value)
    was_waiting: bool  # it came from the unassigned queue


@dataclass(frozen=True)
class LeadsAssigned:
    """Leads were assigned under ``config`` (callbacks deliver them; the queue lets go of those
    that waited)."""

    config: RoutingConfig
    assigned: Sequence[Assigned]


@dataclass(frozen=True)
class WaitingLead:
    """A lead nobody can take now: it waits for capacity, or, parked, for people."""

    lead_id: str
    mql_event_id: str
    lead: dict[str, Any]
    attempt: int
    previous_rep_id: str | None
    excluded_reps: list[str]
    rule_id: str
    explanation: dict[str, Any]
    config_version: int | None
    queued_at: datetime


@dataclass(frozen=True)
class LeadsWaiting:
    """Leads could not be assigned and wait (the queue keeps them)."""

    waiting: Sequence[WaitingLead]


DecidedStatus = Literal["accepted", "rejected", "qualified", "reassigned"]


@dataclass(frozen=True)
class AssignmentsDecided:
    """Assignments were decided: by their rep (accepted, rejected, qualified) or, their SLA run
    out, taken back (reassigned). ``assignments`` are the rows as they are now."""

    status: DecidedStatus
    assignments: Sequence[Mapping[Any, Any]]


@dataclass(frozen=True)
class ReceivedEscalation:
    """One ``lead.escalated`` the router received (``data``: the router's view of it)."""

    event: CloudEvent
    data: Escalation


@dataclass(frozen=True)
class EscalationsReceived:
    """``lead.escalated`` events seen for the first time, under the active ``config``."""

    config: ConfigVersion | None
    escalations: Sequence[ReceivedEscalation]


@dataclass(frozen=True)
class LeadReengaged:
    """A person with an open assignment came back as another MQL (CONTRACT §11). No second
    assignment is made; the rep of ``assignment_id`` is told (``lead.reengaged``)."""

    assignment_id: str
    lead_id: str
    rep_id: str
    mql: Mapping[str, Any]


@dataclass(frozen=True)
class LeadsReengaged:
    """People came back during a routing run under ``config`` (callbacks tell their reps)."""

    config: RoutingConfig | None
    reengaged: Sequence[LeadReengaged]


@dataclass(frozen=True)
class ConfigApplied:
    """A new routing configuration version is active."""

    version: ConfigVersion


@dataclass(frozen=True)
class AvailabilitySet:
    """A rep, or an admin for them, said whether the rep takes leads (``until``: when it flips back)."""

    rep_id: str
    available: bool
    until: datetime | None
    at: datetime


@dataclass(frozen=True)
class LeadReleased:
    """An admin sent a parked lead back to routing."""

    lead_id: str


@dataclass(frozen=True)
class RepOffboarded:
    """A rep left (CONTRACT §12): each feature that holds something of theirs hands it to
    ``successor`` in the same unit of work and records what it moved in ``moved``."""

    rep_id: str
    successor: str
    at: datetime
    moved: dict[str, Any]


# Questions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnreachableReps(Question[frozenset[str]]):
    """Reps whose callback endpoint has been down longer than ``after`` at ``now`` (routing skips them)."""

    now: datetime
    after: timedelta


@dataclass(frozen=True)
class ConfigProblems(Question[list[Problem]]):
    """What a feature finds wrong with ``config`` before it is stored (gathered: callback URLs,
    calendar feeds...), each with its path."""

    config: RoutingConfig


@dataclass(frozen=True)
class RoutingInputs(Question[dict[str, Any]]):
    """Fields of ``RoutingState`` a feature supplies at ``now`` (gathered: calendars' busy reps)."""

    now: datetime


@dataclass(frozen=True)
class RepLoadFields(Question[dict[str, dict[str, Any]]]):
    """A feature's fields of each rep in ``GET /v1/reps/load`` at ``now`` (gathered)."""

    now: datetime


@dataclass(frozen=True)
class WaitingAmongStatement(Question[Any]):
    """A statement selecting which of ``lead_ids`` wait in the queue (run with other reads)."""

    lead_ids: Sequence[str]


@dataclass(frozen=True)
class AnyLeadWaiting(Question[bool]):
    """Does any lead wait in the queue (for capacity, or parked, for people)?"""


@dataclass(frozen=True)
class OldestWaitingForCapacity(Question[Sequence[WaitingLead]]):
    """The ``limit`` oldest leads waiting for capacity, first in first out."""

    limit: int


@dataclass(frozen=True)
class CurrentRoutingState(Question[RoutingState]):
    """The routing state as it is now, unlocked (previews, simulations, the reps' load)."""


@dataclass(frozen=True)
class StoredSlaSetting(Question[int | None]):
    """The ``sla`` setting ``key`` of the stored config ``version`` (None: not set there)."""

    version: int
    key: str


class BatchMemory(Protocol):
    """What is known of a batch's people and accounts while it is routed (``RecallPeople``)."""

    def context_for(self, lead: Mapping[str, Any], *, fresh: bool) -> LeadContext: ...

    def existing(self, lead: Mapping[str, Any]) -> Any: ...

    def assigned(
        self, lead: Mapping[str, Any], decision: Decision, assignment_id: str, now: datetime
    ) -> Any: ...


@dataclass(frozen=True)
class RecallPeople(Question[BatchMemory]):
    """Match ``leads`` about to be routed to their accounts and recall their people."""

    leads: Sequence[Mapping[str, Any]]
    config: RoutingConfig
    now: datetime


@dataclass(frozen=True)
class CurrentAccountIndex(Question[AccountIndex]):
    """The account index as this process holds it (simulations)."""


@dataclass(frozen=True)
class AssignmentStatuses(Question[Any]):
    """A selectable of every assignment's ``assignment_id``, ``lead_id``, ``rep_id``, ``status``
    and ``assigned_at``, to join with the asker's own tables in one statement."""


@dataclass(frozen=True)
class OpenByAccount(Question[dict[str, int]]):
    """Each rep's undecided assignments that came to them by account (named account, owner,
    cover, stickiness) rather than by a team's rotation."""
