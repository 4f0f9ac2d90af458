"""What the sla-monitor forgets, and when (handoff_shared.retention).

- ``timers``: a closed timer (decided, superseded or reassigned) after ``timers_retention``.
  A timer is also what makes a replayed ``lead.assigned`` a duplicate, so it is kept at least
  as long as a dead letter can be replayed (the ``*.dlq`` topics keep 30 days).
- ``escalations``: the steps fired, on the same clock, once their timer is no longer open
  (an open timer's steps are what keeps a step from firing twice).
"""

from __future__ import annotations

from handoff_shared.retention import Rule

from handoff_sla_monitor.settings import Settings


def rules(settings: Settings) -> list[Rule]:
    return [
        Rule(
            "sla_monitor.escalations",
            settings.timers_retention,
            "x.fired_at < :cutoff AND NOT EXISTS (SELECT 1 FROM sla_monitor.timers t"
            " WHERE t.assignment_id = x.assignment_id AND t.status = 'open')",
        ),
        Rule(
            "sla_monitor.timers",
            settings.timers_retention,
            "x.status <> 'open' AND x.closed_at < :cutoff",
        ),
    ]
