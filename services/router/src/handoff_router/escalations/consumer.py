"""The ``lead.escalated`` consumer of the router (its own consumer group)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from handoff_shared import events
from handoff_shared.kafka import BatchHandler, decode_batch

from handoff_router.context import RouterContext
from handoff_router.escalations.service import receive_escalations
from handoff_router.event_views import VIEWS


def escalation_handler(context: RouterContext, dead_letter_topic: Callable[[str], str]) -> BatchHandler:
    """The batch handler of the reassignment consumer group."""

    async def on_records(records: Sequence[Any]) -> None:
        valid, dead = decode_batch(
            records, {events.LEAD_ESCALATED}, dead_letter_topic, service="router", views=VIEWS
        )
        await receive_escalations(context, valid, dead)

    return on_records
