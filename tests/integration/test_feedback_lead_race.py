"""Two batches that both take a lead for new cannot both write it: the second finds it taken
and its batch is merged again on the winner's state, so no fact of either is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from handoff_feedback.ingest import repository as leads
from handoff_feedback.ingest.repository import LeadsRaced, StoredLead
from handoff_feedback.outcomes.facts import LeadState, Mql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.stack import unique

pytestmark = pytest.mark.integration


def lead(lead_id: str, source: str) -> StoredLead:
    mql = Mql(f"{lead_id}/mql", datetime(2026, 11, 2, tzinfo=UTC), source, None, None, {})
    return StoredLead(LeadState(lead_id, mql=mql), frozenset())


async def test_a_lead_inserted_meanwhile_by_another_batch_raises_leads_raced(engine: AsyncEngine) -> None:
    lead_id = unique("race")
    try:
        async with AsyncSession(engine) as first, AsyncSession(engine) as second:
            await first.begin()
            assert await leads.lock(first, [lead_id]) == {}
            await second.begin()
            assert await leads.lock(second, [lead_id]) == {}  # both take it for new
            await leads.save(first, new={lead_id: lead(lead_id, "first")}, changed={})
            losing = asyncio.create_task(
                leads.save(second, new={lead_id: lead(lead_id, "second")}, changed={})
            )
            await first.commit()  # whether it waited on the first insert or comes after, it loses
            with pytest.raises(LeadsRaced):
                await asyncio.wait_for(losing, timeout=30)
            await second.rollback()
        async with AsyncSession(engine) as session:
            stored = await leads.lock(session, [lead_id])
        mql = stored[lead_id].state.mql
        assert mql is not None
        assert mql.source == "first"  # the winner's state, not overwritten
    finally:
        # The lead's events are on no topic: leave no row a rebuild would drop
        # (test_feedback_rebuild compares the live tables with a rebuild's).
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(text("DELETE FROM feedback.leads WHERE lead_id = :i"), {"i": lead_id})
