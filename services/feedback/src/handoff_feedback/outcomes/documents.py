"""A lead's state as a JSON document (how it is stored) and back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from handoff_feedback.outcomes.facts import (
    LEVELS,
    Accepted,
    Assigned,
    AssignmentFacts,
    Escalated,
    LeadState,
    Mql,
    Qualification,
    Qualified,
    Rejected,
)


def _t(moment: datetime) -> str:
    return moment.isoformat()


def _mql(mql: Mql) -> dict[str, Any]:
    return {
        "id": mql.event_id,
        "at": _t(mql.at),
        "source": mql.source,
        "campaign": mql.campaign,
        "score": mql.score,
        "fields": mql.fields,
    }


def _read_mql(doc: dict[str, Any]) -> Mql:
    return Mql(
        doc["id"],
        datetime.fromisoformat(doc["at"]),
        doc["source"],
        doc["campaign"],
        doc["score"],
        doc.get("fields") or {},
    )


def to_document(state: LeadState) -> dict[str, Any]:
    """The state as plain JSON values."""
    assignments = []
    for facts in state.assignments:
        doc: dict[str, Any] = {"id": facts.assignment_id}
        if (a := facts.assigned) is not None:
            doc["assigned"] = [
                a.event_id, _t(a.at), a.rep_id, a.team_id, a.rule_id, a.attempt, _mql(a.lead)
            ]  # fmt: skip
        if (c := facts.accepted) is not None:
            doc["accepted"] = [c.event_id, _t(c.at), c.rep_id, c.seconds_to_accept]
        if (r := facts.rejected) is not None:
            doc["rejected"] = [r.event_id, _t(r.at), r.rep_id, r.reason, r.note]
        escalations = {e.level: [e.event_id, _t(e.at), e.rep_id] for e in facts.escalations if e is not None}
        if escalations:
            doc["escalated"] = escalations
        if (q := facts.qualified) is not None:
            doc["qualified"] = [q.event_id, _t(q.at), q.rep_id, q.outcome, q.reason, q.seconds_since_accept]
        assignments.append(doc)
    return {
        "lead_id": state.lead_id,
        "mql": _mql(state.mql) if state.mql is not None else None,
        "assignments": assignments,
    }


def from_document(doc: dict[str, Any]) -> LeadState:
    """The state a document holds."""
    assignments = []
    for item in doc["assignments"]:
        aid = item["id"]
        facts = AssignmentFacts(aid)
        if (a := item.get("assigned")) is not None:
            facts = facts.merge(
                Assigned(a[0], datetime.fromisoformat(a[1]), aid, a[2], a[3], a[4], a[5], _read_mql(a[6]))
            )
        if (c := item.get("accepted")) is not None:
            facts = facts.merge(Accepted(c[0], datetime.fromisoformat(c[1]), aid, c[2], c[3]))
        if (r := item.get("rejected")) is not None:
            facts = facts.merge(Rejected(r[0], datetime.fromisoformat(r[1]), aid, r[2], r[3], r[4]))
        for level in LEVELS:
            if (e := (item.get("escalated") or {}).get(level)) is not None:
                facts = facts.merge(Escalated(e[0], datetime.fromisoformat(e[1]), aid, e[2], level))
        if (q := item.get("qualified")) is not None:
            facts = facts.merge(
                Qualified(
                    q[0], datetime.fromisoformat(q[1]), aid, q[2], cast(Qualification, q[3]), q[4], q[5]
                )
            )
        assignments.append(facts)
    mql = doc.get("mql")
    return LeadState(
        doc["lead_id"],
        _read_mql(mql) if mql is not None else None,
        tuple(sorted(assignments, key=lambda f: f.assignment_id)),
    )
