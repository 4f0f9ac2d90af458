"""The topics of CONTRACT §1 (defaults; each service's settings can override them)."""

from __future__ import annotations

from dataclasses import dataclass

MQL_CREATED = "lead.mql-created"
MQL_CREATED_DLQ = "lead.mql-created.dlq"
LEAD_ASSIGNED = "lead.assigned"
LEAD_ACCEPTED = "lead.accepted"
LEAD_REJECTED = "lead.rejected"
LEAD_ESCALATED = "lead.escalated"
SCORING_FEEDBACK = "scoring.feedback"


@dataclass(frozen=True)
class DeadLetterHeaders:
    """Header names a dead letter carries beside the original bytes."""

    error_class: str = "error.class"
    error_message: str = "error.message"
    error_stage: str = "error.stage"
    original_topic: str = "original.topic"
    original_partition: str = "original.partition"
    original_offset: str = "original.offset"


DLQ_HEADERS = DeadLetterHeaders()


@dataclass(frozen=True)
class Topic:
    """One topic of the contract: who writes it, how it is keyed, which events it carries."""

    name: str
    producer: str
    key: str
    event_types: tuple[str, ...]
    description: str


TOPICS: tuple[Topic, ...] = (
    Topic(MQL_CREATED, "marketing automation", "lead_id", ("mql.created",), "A lead became marketing qualified."),
    Topic(
        MQL_CREATED_DLQ,
        "router",
        "original key",
        (),
        "MQL records that could not be read: the original bytes, unchanged, with the reason in headers.",
    ),
    Topic(LEAD_ASSIGNED, "router", "lead_id", ("lead.assigned",), "A lead was assigned to a rep, with why."),
    Topic(LEAD_ACCEPTED, "router", "lead_id", ("lead.accepted",), "The assigned rep accepted the lead."),
    Topic(LEAD_REJECTED, "router", "lead_id", ("lead.rejected",), "The assigned rep rejected the lead, with a reason."),
    Topic(LEAD_ESCALATED, "sla-monitor", "lead_id", ("lead.escalated",), "An assignment was left undecided too long."),
    Topic(
        SCORING_FEEDBACK,
        "feedback",
        "lead_id, or the segment key for snapshots",
        ("scoring.lead_outcome", "scoring.feedback_snapshot"),
        "Outcomes and aggregates for marketing's scoring team.",
    ),
)
