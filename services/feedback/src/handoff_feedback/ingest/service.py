"""The lifecycle consumer: parse, merge into each lead's state, count, emit outcomes.

One transaction per batch: the leads' states are locked and merged (the core), the
aggregates get ``contributions(after) - contributions(before)``, and every outcome not yet
published goes to the outbox. Offsets are committed after it (BatchConsumer).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord
from handoff_shared import cloudevents, db, events, kafka
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from handoff_shared.runtime import Runtime
from prometheus_client import Counter
from sqlalchemy import text

from handoff_feedback import aggregates, tables
from handoff_feedback.ingest import repository as leads
from handoff_feedback.ingest.event_views import VIEWS
from handoff_feedback.ingest.events_to_facts import CONSUMED_TYPES, fact_of
from handoff_feedback.ingest.repository import StoredLead
from handoff_feedback.outcomes.decisions import Outcome, outcomes_of
from handoff_feedback.outcomes.facts import Fact, LeadState, apply_all
from handoff_feedback.outcomes.tally import CountKey, Delta, Sample, SampleKey, add_contributions
from handoff_feedback.settings import Settings

log = structlog.get_logger(__name__)
EVENTS_AGGREGATED = Counter(
    "handoff_feedback_events_aggregated_total", "Lifecycle events merged into lead states"
)
RACE_RETRIES = 5  # a batch whose new leads another batch inserted first is merged again
OUTCOME_IDS = uuid.UUID("6f1c6a52-5a53-4d1e-9d7a-3c2f0e0b7a11")
_OUTCOME_NAMESPACE = OUTCOME_IDS.bytes


def outcome_id(outcome: Outcome) -> str:
    """``str(uuid.uuid5(OUTCOME_IDS, "<lead_id>/<key>"))``, without building a ``UUID`` (whose
    checks cost more than the SHA-1): one per outcome, on the consumer's hot path."""
    name = f"{outcome.lead_id}/{outcome.key}".encode()
    digest = bytearray(hashlib.sha1(_OUTCOME_NAMESPACE + name).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def outcome_event(outcome: Outcome, settings: Settings) -> OutboxMessage:
    """``scoring.lead_outcome``; its id is derived from the outcome's key, so a repeat is recognisable."""
    data = events.LeadOutcome(
        lead_id=outcome.lead_id,
        outcome=outcome.outcome,
        reason=outcome.reason,
        rep_id=outcome.rep_id,
        team_id=outcome.team_id,
        source=outcome.source,
        campaign=outcome.campaign,
        score=outcome.score,
        seconds_to_decision=outcome.seconds_to_decision,
        decided_at=outcome.decided_at,
        assignment_id=outcome.assignment_id,
        rule_id=outcome.rule_id,
        lead=outcome.lead,
    )
    event = cloudevents.new_event(
        events.LEAD_OUTCOME,
        settings.event_source,
        outcome.lead_id,
        data,
        id=outcome_id(outcome),
        time=outcome.decided_at,
    )
    return OutboxMessage.of_event(settings.topic_scoring_feedback, event)


def merge_batch(
    stored: dict[str, StoredLead], facts: dict[str, list[Fact]], settings: Settings
) -> tuple[dict[str, StoredLead], Delta, list[Outcome]]:
    """The leads' new states, what the aggregates gain, and the outcomes not yet published.

    A lead missing from ``stored`` is new: it starts empty."""
    zone = settings.zone
    counts: dict[CountKey, int] = {}
    added: dict[SampleKey, Sample] = {}
    removed: list[SampleKey] = []
    due: list[Outcome] = []
    changed: dict[str, StoredLead] = {}
    for lead_id, lead_facts in facts.items():
        before = stored.get(lead_id) or StoredLead(LeadState(lead_id), frozenset())
        state = apply_all(before.state, lead_facts)
        if state == before.state:
            continue  # a repeat: nothing new
        # after - before, summed over the batch's leads: one row per key for the whole batch
        old: dict[SampleKey, Sample] = {}
        new: dict[SampleKey, Sample] = {}
        add_contributions(before.state, zone, counts, old, sign=-1)
        add_contributions(state, zone, counts, new)
        added.update((k, v) for k, v in new.items() if old.get(k) != v)
        removed += [k for k in old if k not in new]
        fresh = [o for o in outcomes_of(state) if o.key not in before.published]
        due += fresh
        changed[lead_id] = StoredLead(state, before.published | {o.key for o in fresh})
    return changed, Delta({k: v for k, v in counts.items() if v}, added, removed), due


class Ingest:
    """Applies batches of lifecycle records.

    ``rebuilding=True`` (``handoff-feedback rebuild``) records outcomes as published without
    publishing them again and leaves dead letters to the live consumer. The live consumer
    takes the rebuild lock shared, so it waits while a rebuild holds it exclusively.
    """

    def __init__(self, runtime: Runtime, settings: Settings, *, rebuilding: bool = False) -> None:
        self.runtime = runtime
        self.settings = settings
        self.publish = not rebuilding

    async def _apply(self, facts: dict[str, list[Fact]], dead: list[OutboxMessage]) -> list[Outcome]:
        """One transaction: merge the facts into the stored states, count, queue the outcomes."""
        due: list[Outcome] = []
        async with db.transaction(self.runtime.sessions) as session:
            if self.publish:
                await session.execute(
                    text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": tables.REBUILD_LOCK}
                )
                await add_to_outbox(session, tables.outbox, dead)
            if facts:
                stored = await leads.lock(session, list(facts))
                changed, change, due = merge_batch(stored, facts, self.settings)
                await leads.save(
                    session,
                    new={i: lead for i, lead in changed.items() if i not in stored},
                    changed={i: lead for i, lead in changed.items() if i in stored},
                )
                await aggregates.add(session, change, mark=self.publish)
                if self.publish:
                    await add_to_outbox(
                        session, tables.outbox, [outcome_event(o, self.settings) for o in due]
                    )
        return due

    async def on_records(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        valid, dead = kafka.decode_batch(
            records,
            CONSUMED_TYPES,
            self.runtime.dead_letter_topic,
            service=self.settings.service_name,
            views=VIEWS,
        )
        facts: dict[str, list[Fact]] = defaultdict(list)
        for item in valid:
            fact = fact_of(item.event, item.data)
            facts[item.event.subject or ""].append(fact)  # the subject is the lead_id (checked)
        for attempt in range(1, RACE_RETRIES + 1):
            try:
                due = await self._apply(facts, dead)
                break
            except leads.LeadsRaced:
                if attempt == RACE_RETRIES:
                    raise
                log.info("events.leads_raced", attempt=attempt)  # the batch reads the winner's states
        EVENTS_AGGREGATED.inc(len(valid))
        log.debug("events.aggregated", received=len(records), dead_letters=len(dead))
        if self.publish and (dead or due):
            self.runtime.relay.wake()
