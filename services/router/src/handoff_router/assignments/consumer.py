"""The ``mql.created`` consumer: route each new MQL to a rep, or queue it, in one transaction a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from handoff_shared import events
from handoff_shared.idempotency import first_seen
from handoff_shared.kafka import BatchHandler, Incoming, decode_batch
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox

from handoff_router.assignments.runs import LeadToRoute, RoutingRun, leads_in_hand, start_run
from handoff_router.context import RouterContext
from handoff_router.metadata import outbox, processed_events
from handoff_router.routing.normalisation import normalise_mql

log = structlog.get_logger(__name__)


def mql_handler(context: RouterContext, dead_letter_topic: Callable[[str], str]) -> BatchHandler:
    """The batch handler of the MQL consumer group."""

    async def on_records(records: Sequence[Any]) -> None:
        valid, dead = decode_batch(records, {events.MQL_CREATED}, dead_letter_topic, service="router")
        await route_mqls(context, valid, dead)

    return on_records


async def route_mqls(
    context: RouterContext, batch: Sequence[Incoming], dead_letters: Sequence[OutboxMessage]
) -> RoutingRun | None:
    """Route a batch of ``mql.created`` events in one transaction (duplicates are no-ops)."""
    async with context.transaction() as session:
        await add_to_outbox(session, outbox, dead_letters)
        fresh = await first_seen(session, processed_events, batch)
        if not fresh:
            return None
        config = await context.configs.active(session)
        run = await start_run(context, session, config)
        before = run.state
        in_hand = await leads_in_hand(context, session, [item.data.lead_id for item in fresh])
        to_route: list[LeadToRoute] = []
        for item in fresh:
            lead = normalise_mql(item.data.model_dump(mode="json", exclude_none=True))
            if lead["lead_id"] in in_hand:
                log.info("mql.duplicate_lead", event_id=item.event.id, lead_id=lead["lead_id"])
                continue
            in_hand.add(lead["lead_id"])
            to_route.append(LeadToRoute(lead=lead, mql_event_id=item.event.id, fresh=True))
        await run.recall([item.lead for item in to_route])
        for lead_to_route in to_route:
            run.route(lead_to_route)
        await run.flush(before)
    log.info(
        "mql.batch_routed",
        events=len(batch),
        fresh=len(fresh),
        assigned=run.assigned,
        queued=run.queued,
        reengaged=run.reengaged,
    )
    return run
