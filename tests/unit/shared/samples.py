"""Valid data of every event type of CONTRACT §3, as a producer would put it in JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handoff_shared import events

# hypothesis takes naive bounds for aware datetimes; a day's margin keeps any offset in range.
EARLIEST = datetime(1, 1, 2)  # noqa: DTZ001
LATEST = datetime(9999, 12, 30)  # noqa: DTZ001


def mql(lead_id: str = "lead-1") -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "email": "pat.lee@acme.io",
        "first_name": "Pat",
        "last_name": "Lee",
        "title": "VP Sales",
        "phone": "+1 555 0100",
        "company": {"name": "Acme", "domain": "acme.io", "employees": 1200, "industry": "SaaS"},
        "country": "US",
        "region": "CA",
        "postal_code": "94107",
        "source": "webinar",
        "campaign": "q3-launch",
        "score": 87.5,
        "product_interest": ["routing", "analytics"],
        "mql_at": "2026-03-02T09:15:00Z",
        "attributes": {"segment": "enterprise", "trial": True},
    }


def data_of(event_type: str, lead_id: str = "lead-1") -> dict[str, Any]:
    """Every required field and most optional ones, valid."""
    assignment = {"assignment_id": "asg-1", "lead_id": lead_id, "rep_id": "rep-ana"}
    samples: dict[str, dict[str, Any]] = {
        events.MQL_CREATED: mql(lead_id),
        events.LEAD_ASSIGNED: {
            **assignment,
            "team_id": "na-enterprise",
            "rule_id": "na-enterprise",
            "attempt": 1,
            "assigned_at": "2026-03-02T09:15:01Z",
            "sla_due_at": "2026-03-02T13:15:01Z",
            "explanation": {
                "rule_id": "na-enterprise",
                "strategy": "weighted_round_robin",
                "candidates": ["rep-ana", "rep-carl"],
                "skipped": [{"rep_id": "rep-carl", "reason": "at max_open"}],
                "matched_by": "rule",
            },
            "lead": mql(lead_id),
        },
        events.LEAD_ACCEPTED: {
            **assignment,
            "accepted_at": "2026-03-02T10:00:00Z",
            "seconds_to_accept": 2699.0,
        },
        events.LEAD_REJECTED: {
            **assignment,
            "rejected_at": "2026-03-02T10:00:00Z",
            "reason": "not_icp",
            "note": "too small",
        },
        events.LEAD_ESCALATED: {
            **assignment,
            "level": "remind",
            "sla_due_at": "2026-03-02T13:15:01Z",
            "overdue_seconds": -7200.0,
            "manager_id": "mgr-bob",
            "escalated_at": "2026-03-02T11:15:01Z",
        },
        events.LEAD_OUTCOME: {
            "lead_id": lead_id,
            "outcome": "accepted",
            "rep_id": "rep-ana",
            "team_id": "na-enterprise",
            "source": "webinar",
            "campaign": "q3-launch",
            "score": 87.5,
            "seconds_to_decision": 2699,
            "decided_at": "2026-03-02T10:00:00Z",
        },
        events.FEEDBACK_SNAPSHOT: {
            "segment": {"source": "webinar", "campaign": "q3-launch"},
            "window_start": "2026-03-02T00:00:00Z",
            "window_end": "2026-03-03T00:00:00Z",
            "mqls": 10,
            "accepted": 6,
            "rejected": 3,
            "rejected_by_reason": {"not_icp": 2, "spam": 1},
            "acceptance_rate": 0.6,
            "seconds_to_accept_p50": 1800.0,
            "seconds_to_accept_p90": 7200.0,
            "sqls": 3,
            "sal_to_sql_rate": 0.5,
        },
        events.LEAD_QUALIFIED: {
            **assignment,
            "outcome": "disqualified",
            "reason": "no_budget",
            "qualified_at": "2026-03-03T10:00:00Z",
            "seconds_since_accept": 86400.0,
        },
        events.ACCEPTANCE_ALERT: {
            "segment": {"campaign": "q3-launch"},
            "window_start": "2026-03-02T00:00:00Z",
            "window_end": "2026-03-03T00:00:00Z",
            "acceptance_rate": 0.35,
            "decisions": 40,
            "direction": "below",
            "threshold": 0.5,
            "state": "firing",
            "raised_at": "2026-03-02T15:00:00Z",
        },
        events.ROUTING_CONFIG_APPLIED: {
            "version": 3,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "applied_at": "2026-03-02T08:00:00Z",
            "alerts": {"acceptance_below": 0.6, "acceptance_above": 0.9, "min_decisions": 20},
        },
    }
    return samples[event_type]


def subject_of(event_type: str, lead_id: str = "lead-1") -> str:
    """The subject: the lead_id, or the segment key for snapshots."""
    if event_type in (events.FEEDBACK_SNAPSHOT, events.ACCEPTANCE_ALERT):
        return "source=webinar,campaign=q3-launch"
    if event_type == events.ROUTING_CONFIG_APPLIED:
        return "routing-config"
    return lead_id
