"""Each lead's stored state, read under a row lock and written back in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback.outcomes import documents
from handoff_feedback.outcomes.facts import LeadState

S = "feedback"


@dataclass(frozen=True)
class StoredLead:
    state: LeadState
    published: frozenset[str]


async def lock(session: AsyncSession, lead_ids: Sequence[str]) -> dict[str, StoredLead]:
    """The leads' states, locked until the transaction ends (a new lead starts empty).

    Rows are created first, then locked in lead_id order, so two batches sharing leads
    wait for each other instead of overwriting each other's merge.
    """
    ids = sorted(set(lead_ids))
    empty = [orjson.dumps(documents.to_document(LeadState(i))).decode() for i in ids]
    await session.execute(
        text(
            f"INSERT INTO {S}.leads (lead_id, state) SELECT i, CAST(s AS jsonb)"
            " FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[])) AS n(i, s)"
            " ORDER BY i ON CONFLICT DO NOTHING"
        ),
        {"ids": ids, "states": empty},
    )
    rows = await session.execute(
        text(
            f"SELECT lead_id, state, published FROM {S}.leads WHERE lead_id = ANY(CAST(:ids AS text[]))"
            " ORDER BY lead_id FOR UPDATE"
        ),
        {"ids": ids},
    )
    return {
        lead_id: StoredLead(documents.from_document(state), frozenset(published))
        for lead_id, state, published in rows
    }


async def save(session: AsyncSession, leads: Mapping[str, StoredLead]) -> None:
    """Write the leads' new states and published outcome keys."""
    if not leads:
        return
    ids = sorted(leads)
    await session.execute(
        text(
            f"UPDATE {S}.leads AS l SET state = CAST(n.s AS jsonb),"
            " published = ARRAY(SELECT jsonb_array_elements_text(CAST(n.p AS jsonb))), updated_at = now()"
            " FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[]), CAST(:published AS text[]))"
            " AS n(i, s, p) WHERE l.lead_id = n.i"
        ),
        {
            "ids": ids,
            "states": [orjson.dumps(documents.to_document(leads[i].state)).decode() for i in ids],
            "published": [orjson.dumps(sorted(leads[i].published)).decode() for i in ids],
        },
    )
