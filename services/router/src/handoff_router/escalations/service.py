"""What the router does with ``lead.escalated``: take each event once and publish
``EscalationsReceived`` in one unit of work a batch. The features act on it (wired in
``bootstrap.py``): callbacks call the rep (``remind``) or the manager back; assignments takes
back those at ``reassign`` and routes them again or parks them.
"""

from __future__ import annotations

from collections.abc import Sequence

from handoff_shared.idempotency import first_seen
from handoff_shared.kafka import Incoming
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox

from handoff_router.context import RouterContext
from handoff_router.facts import EscalationsReceived, ReceivedEscalation
from handoff_router.metadata import outbox, processed_events


async def receive_escalations(
    context: RouterContext, batch: Sequence[Incoming], dead_letters: Sequence[OutboxMessage]
) -> None:
    """Publish the escalations of ``batch`` not seen before (repeats are no-ops)."""
    async with context.transaction() as session:
        await add_to_outbox(session, outbox, dead_letters)
        seen = await first_seen(session, processed_events, batch)
        if not seen:
            return
        config = await context.configs.active(session)
        escalations = [ReceivedEscalation(item.event, item.data) for item in seen]
        await context.bus.publish(session, EscalationsReceived(config, escalations))
