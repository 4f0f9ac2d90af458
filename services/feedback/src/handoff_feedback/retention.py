"""What the feedback service forgets, and when (handoff_shared.retention).

- ``leads``: a lead's state (its facts, and the MQL's data) once nothing has changed it for
  ``lead_states_retention``. An event of that lead read later starts a new state: kept
  longer than a dead letter can be replayed (30 days), a replay never counts twice. A
  decision or qualification arriving after its lead was forgotten is not counted.
- ``aggregates``, ``accept_samples`` and ``alerts``: the counts, seconds-to-accept samples
  and quiet alert states of windows older than ``report_retention``: reports reach that far
  back.
"""

from __future__ import annotations

from handoff_shared.retention import Rule

from handoff_feedback.settings import Settings


def rules(settings: Settings) -> list[Rule]:
    return [
        Rule("feedback.leads", settings.lead_states_retention, "x.updated_at < :cutoff"),
        Rule("feedback.aggregates", settings.report_retention, "x.window_start < :cutoff"),
        Rule("feedback.accept_samples", settings.report_retention, "x.accepted_at < :cutoff"),
        Rule(
            "feedback.alerts",
            settings.report_retention,
            "x.judged_window < :cutoff AND NOT x.below AND NOT x.above",
        ),
    ]
