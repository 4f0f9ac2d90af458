"""Each segment's acceptance alerts, read under a row lock and written back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback.outcomes.alerts import SegmentAlerts

S = "feedback"
SegmentId = tuple[str, str]  # (dimension, segment key)


async def lock(session: AsyncSession, segments: Sequence[SegmentId]) -> dict[SegmentId, SegmentAlerts]:
    """The segments' alert states, locked (a segment never judged starts quiet)."""
    ordered = sorted(set(segments))
    if not ordered:
        return {}
    params = {"d": [s[0] for s in ordered], "s": [s[1] for s in ordered]}
    await session.execute(
        text(
            f"INSERT INTO {S}.alerts (dimension, segment) SELECT * FROM unnest(CAST(:d AS text[]),"
            " CAST(:s AS text[])) ON CONFLICT DO NOTHING"
        ),
        params,
    )
    rows = await session.execute(
        text(
            f"SELECT a.dimension, a.segment, a.below, a.above, a.judged_window FROM {S}.alerts a"
            " JOIN unnest(CAST(:d AS text[]), CAST(:s AS text[])) AS k(d, s)"
            " ON a.dimension = k.d AND a.segment = k.s"
            " ORDER BY a.dimension, a.segment FOR UPDATE OF a"
        ),
        params,
    )
    return {(d, s): SegmentAlerts(below, above, judged) for d, s, below, above, judged in rows}


async def save(
    session: AsyncSession,
    states: Mapping[SegmentId, tuple[SegmentAlerts, float, int]],
    changed_at: datetime,
) -> None:
    """Write the segments' alert states with the latest figures judged."""
    if not states:
        return
    keys = sorted(states)
    await session.execute(
        text(
            f"UPDATE {S}.alerts AS a SET below = n.b, above = n.a, judged_window = n.j,"
            " acceptance_rate = n.r, decisions = n.n, changed_at = :at"
            " FROM unnest(CAST(:d AS text[]), CAST(:s AS text[]), CAST(:b AS boolean[]),"
            " CAST(:a AS boolean[]), CAST(:j AS timestamptz[]), CAST(:r AS float8[]), CAST(:n AS bigint[]))"
            " AS n(d, s, b, a, j, r, n) WHERE a.dimension = n.d AND a.segment = n.s"
        ),
        {
            "d": [k[0] for k in keys],
            "s": [k[1] for k in keys],
            "b": [states[k][0].below for k in keys],
            "a": [states[k][0].above for k in keys],
            "j": [states[k][0].judged_window for k in keys],
            "r": [states[k][1] for k in keys],
            "n": [states[k][2] for k in keys],
            "at": changed_at,
        },
    )


async def firing(
    session: AsyncSession,
) -> list[tuple[str, str, bool, bool, datetime | None, float | None, int | None, datetime | None]]:
    """Every segment with an alert firing."""
    rows = await session.execute(
        text(
            f"SELECT dimension, segment, below, above, judged_window, acceptance_rate, decisions, changed_at"
            f" FROM {S}.alerts WHERE below OR above ORDER BY changed_at DESC"
        )
    )
    return [tuple(row) for row in rows]


async def open_counts(session: AsyncSession) -> tuple[int, int]:
    """How many segments have their ``below`` alert firing, and how many their ``above``."""
    row = (
        await session.execute(
            text(f"SELECT count(*) FILTER (WHERE below), count(*) FILTER (WHERE above) FROM {S}.alerts")
        )
    ).one()
    return int(row[0]), int(row[1])
