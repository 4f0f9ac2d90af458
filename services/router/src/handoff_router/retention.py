"""What the router forgets, and when (handoff_shared.retention): the rows that grow with
traffic, each kept for its setting after it stops mattering.

- ``processed_events``: the ids of the events already applied. Kept at least as long as a
  dead letter can be replayed (the Kafka retention of the ``*.dlq`` topics, 30 days), so a
  replayed record that was applied before is still a duplicate.
- ``callback_deliveries`` (and their ``callback_attempts``, by cascade): the bodies sent to
  SDR tools hold the lead's data. Delivered and failed ones go after their retention; a
  pending delivery is never forgotten.
- ``assignments``: decided ones (accepted, rejected, reassigned) after theirs; a pending
  assignment stays whatever its age. ``lead_people`` (the person keys of each assignment:
  e-mail and phone) go once their assignment has gone.
"""

from __future__ import annotations

from handoff_shared.retention import Rule

from handoff_router.settings import RouterSettings


def rules(settings: RouterSettings) -> list[Rule]:
    return [
        Rule("router.processed_events", settings.processed_events_retention, "x.processed_at < :cutoff"),
        Rule(
            "router.callback_deliveries",
            settings.callback_deliveries_retention,
            "x.status <> 'pending' AND x.finished_at < :cutoff",
        ),
        Rule(
            "router.assignments",
            settings.assignments_retention,
            "x.status <> 'pending' AND x.decided_at < :cutoff",
        ),
        Rule(
            "router.lead_people",
            settings.assignments_retention,
            "x.assigned_at < :cutoff AND NOT EXISTS"
            " (SELECT 1 FROM router.assignments a WHERE a.assignment_id = x.assignment_id)",
        ),
    ]
