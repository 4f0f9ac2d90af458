"""The topics of CONTRACT §1 (defaults; each service's settings can override them)."""

from __future__ import annotations

from dataclasses import dataclass

from handoff_shared import events

MQL_CREATED = "lead.mql-created"
MQL_CREATED_DLQ = "lead.mql-created.dlq"
LEAD_ASSIGNED = "lead.assigned"
LEAD_ACCEPTED = "lead.accepted"
LEAD_REJECTED = "lead.rejected"
LEAD_ESCALATED = "lead.escalated"
LEAD_QUALIFIED = "lead.qualified"
SCORING_FEEDBACK = "scoring.feedback"
# An extension beyond CONTRACT §1: which routing configuration is active.
ROUTING_CONFIG = "routing.config"

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class DeadLetterHeaders:
    """Header names a dead letter carries beside the original bytes."""

    error_class: str = "error.class"
    error_message: str = "error.message"
    error_stage: str = "error.stage"
    original_topic: str = "original.topic"
    original_partition: str = "original.partition"
    original_offset: str = "original.offset"
    # Beyond the contract's headers: which service's consumer refused the record. Two services
    # may read one topic and refuse one record differently (feedback also reads MQLs).
    error_service: str = "error.service"


DLQ_HEADERS = DeadLetterHeaders()
DLQ_HEADER_NAMES: tuple[str, ...] = (
    DLQ_HEADERS.error_class,
    DLQ_HEADERS.error_message,
    DLQ_HEADERS.error_stage,
    DLQ_HEADERS.original_topic,
    DLQ_HEADERS.original_partition,
    DLQ_HEADERS.original_offset,
)
"""The headers CONTRACT §1 requires of a dead letter."""
DLQ_REASON_HEADER_NAMES: tuple[str, ...] = (*DLQ_HEADER_NAMES, DLQ_HEADERS.error_service)
"""Every header a dead letter adds to the original record's (a replay takes them all off)."""


@dataclass(frozen=True)
class Topic:
    """One topic of the contract: who writes it, how it is keyed, which events it carries."""

    name: str
    producer: str
    key: str
    event_types: tuple[str, ...]
    description: str
    consumers: tuple[str, ...] = ()
    # Services that write the topic beside the contract's producer.
    other_producers: tuple[str, ...] = ()

    @property
    def is_dead_letter(self) -> bool:
        return self.name.endswith(DLQ_SUFFIX)


TOPICS: tuple[Topic, ...] = (
    Topic(
        MQL_CREATED,
        "marketing automation",
        "lead_id",
        (events.MQL_CREATED,),
        "A lead became marketing qualified.",
        ("router", "feedback"),
    ),
    Topic(
        MQL_CREATED_DLQ,
        "router",
        "original key",
        (),
        "MQL records that could not be read, and intake deliveries (HTTP) whose records could not become"
        " mql.created (error.stage intake): the original bytes, unchanged, with the reason in headers.",
        ("operators",),
    ),
    Topic(
        LEAD_ASSIGNED,
        "router",
        "lead_id",
        (events.LEAD_ASSIGNED,),
        "A lead was assigned to a rep, with why.",
        ("sla-monitor", "feedback"),
    ),
    Topic(
        LEAD_ACCEPTED,
        "router",
        "lead_id",
        (events.LEAD_ACCEPTED,),
        "The assigned rep accepted the lead (from the SDR's HTTP call).",
        ("sla-monitor", "feedback"),
    ),
    Topic(
        LEAD_REJECTED,
        "router",
        "lead_id",
        (events.LEAD_REJECTED,),
        "The assigned rep rejected the lead with a reason code (from the SDR's HTTP call).",
        ("sla-monitor", "feedback"),
    ),
    Topic(
        LEAD_ESCALATED,
        "sla-monitor",
        "lead_id",
        (events.LEAD_ESCALATED,),
        "An assignment was left undecided too long: remind, escalate to the manager, or reassign. "
        "The router also writes the manager notices of a parked lead or an auto-paused rep here "
        "(level escalate, with reason and summary).",
        ("router", "feedback"),
        other_producers=("router",),
    ),
    Topic(
        LEAD_QUALIFIED,
        "router",
        "lead_id",
        (events.LEAD_QUALIFIED,),
        "After accepting, the assigned rep said what the lead became: sql or disqualified (SAL -> SQL).",
        ("feedback",),
    ),
    Topic(
        SCORING_FEEDBACK,
        "feedback",
        "lead_id, or the segment key for snapshots and alerts",
        (events.LEAD_OUTCOME, events.FEEDBACK_SNAPSHOT, events.ACCEPTANCE_ALERT),
        "Outcomes, aggregates and acceptance alerts for marketing's scoring team.",
        ("marketing scoring",),
    ),
    Topic(
        ROUTING_CONFIG,
        "router",
        "the constant routing-config",
        (events.ROUTING_CONFIG_APPLIED,),
        "A routing configuration version became active, with what other services take from it"
        " (the acceptance alert thresholds).",
        ("feedback",),
    ),
)


def dead_letter_owner(topic: str) -> str | None:
    """The service that writes ``<topic>.dlq`` (the contract's MQL DLQ for the MQL topic): the
    topic's first consumer. None for a topic this table does not name."""
    for known in TOPICS:
        if known.name == topic and not known.is_dead_letter and known.consumers:
            return known.consumers[0]
    return None


def dead_letter_topic(
    topic: str, service: str, *, owner: str | None = None, owners_topic: str | None = None
) -> str:
    """Where ``service`` writes the records of ``topic`` it cannot read (CONTRACT §13).

    The topic's owner (``owner``, by default its first consumer in ``TOPICS``) writes
    ``owners_topic`` (by default the contract's MQL DLQ, or ``<topic>.dlq``); every other
    service that reads the topic writes ``<topic>.<service>.dlq``. So each dead-letter topic
    has one writer, and holds each bad record once.
    """
    owner = owner if owner is not None else dead_letter_owner(topic)
    if owner is None or owner == service:
        if owners_topic is not None:
            return owners_topic
        return MQL_CREATED_DLQ if topic == MQL_CREATED else f"{topic}{DLQ_SUFFIX}"
    return f"{topic}.{service}{DLQ_SUFFIX}"
