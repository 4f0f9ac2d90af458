"""Each lead's stored state: read under a row lock, then written back, one statement each.

A batch reads the states of its leads that exist (locked in lead_id order, so two batches
sharing leads wait for each other instead of overwriting each other's merge), merges, then
inserts the new leads with their merged state and updates the others. A new lead costs one
row written once. Two batches both seeing a lead as new (two replicas during a rebalance, a
rebuild beside the live consumer) cannot both insert it: the second finds it taken, raises
``LeadsRaced`` and its whole batch is retried, which then reads the winner's state.
"""

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


class LeadsRaced(Exception):
    """Another transaction inserted a lead this batch took for new: retry the batch."""


async def lock(session: AsyncSession, lead_ids: Sequence[str]) -> dict[str, StoredLead]:
    """The stored states of those leads that exist, locked until the transaction ends."""
    rows = await session.execute(
        text(
            f"SELECT lead_id, state, published FROM {S}.leads WHERE lead_id = ANY(CAST(:ids AS text[]))"
            " ORDER BY lead_id FOR UPDATE"
        ),
        {"ids": sorted(set(lead_ids))},
    )
    return {
        lead_id: StoredLead(documents.from_document(state), frozenset(published))
        for lead_id, state, published in rows
    }


def _arrays(leads: Mapping[str, StoredLead]) -> dict[str, list[str]]:
    ids = sorted(leads)
    return {
        "ids": ids,
        "states": [_jsonb_text(documents.to_document(leads[i].state)) for i in ids],
        "published": [orjson.dumps(sorted(leads[i].published)).decode() for i in ids],
    }


async def save(
    session: AsyncSession, new: Mapping[str, StoredLead], changed: Mapping[str, StoredLead]
) -> None:
    """Insert the ``new`` leads and write the ``changed`` ones' states and published outcome keys."""
    if new:
        inserted = await session.execute(
            text(
                f"INSERT INTO {S}.leads (lead_id, state, published)"
                " SELECT n.i, CAST(n.s AS jsonb), ARRAY(SELECT jsonb_array_elements_text(CAST(n.p AS jsonb)))"
                " FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[]), CAST(:published AS text[]))"
                " AS n(i, s, p) ORDER BY n.i ON CONFLICT DO NOTHING RETURNING 1"
            ),
            _arrays(new),
        )
        if len(inserted.all()) != len(new):
            raise LeadsRaced(f"{len(new)} leads taken for new, some inserted meanwhile by another batch")
    if changed:
        await session.execute(
            text(
                f"UPDATE {S}.leads AS l SET state = CAST(n.s AS jsonb),"
                " published = ARRAY(SELECT jsonb_array_elements_text(CAST(n.p AS jsonb))), updated_at = now()"
                " FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[]), CAST(:published AS text[]))"
                " AS n(i, s, p) WHERE l.lead_id = n.i"
            ),
            _arrays(changed),
        )


def _jsonb_text(document: object) -> str:
    """JSON for a jsonb column: PostgreSQL's jsonb cannot hold U+0000, which a hostile MQL may
    carry in any string, so it is stored as U+FFFD (the replacement character) instead."""
    return orjson.dumps(document).decode().replace("\\u0000", "\\ufffd")
