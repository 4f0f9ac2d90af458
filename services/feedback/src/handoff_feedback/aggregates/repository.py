"""The stored aggregates: counts per segment, window and measure; seconds-to-accept samples;
and the windows changed since their last snapshot. Every write is one statement per batch.

A changed window is marked by inserting a row with no unique key: with one, a batch marking
a window that a snapshot transaction is publishing (it has deleted the mark, uncommitted)
would wait for that whole transaction; without, it never waits, and a window marked twice
is published once per claim."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback.outcomes.segments import Dimension
from handoff_feedback.outcomes.tally import Delta
from handoff_feedback.outcomes.windows import WindowKind

S = "feedback"


@dataclass(frozen=True, order=True)
class WindowKey:
    """One segment's window: what a snapshot describes."""

    dimension: Dimension
    segment: str
    window: WindowKind
    window_start: datetime


async def add(session: AsyncSession, change: Delta, *, mark: bool = True) -> None:
    """Add a batch's delta: counts by increment, samples replaced or removed, windows marked
    (unless ``mark`` is false: a rebuild marks every window once at its end)."""
    if change.counts:
        keys = sorted(change.counts)  # one lock order for every writer
        await session.execute(
            text(
                f"INSERT INTO {S}.aggregates AS a "
                '(dimension, segment, "window", window_start, measure, count) '
                "SELECT * FROM unnest(CAST(:d AS text[]), CAST(:s AS text[]), CAST(:w AS text[]),"
                " CAST(:t AS timestamptz[]), CAST(:m AS text[]), CAST(:n AS bigint[])) "
                'ON CONFLICT (dimension, "window", window_start, segment, measure)'
                " DO UPDATE SET count = a.count + excluded.count"
            ),
            {
                "d": [k[0] for k in keys],
                "s": [k[1] for k in keys],
                "w": [k[2] for k in keys],
                "t": [k[3] for k in keys],
                "m": [k[4] for k in keys],
                "n": [change.counts[k] for k in keys],
            },
        )
    if change.counts and mark:
        windows = sorted({k[:4] for k in change.counts})
        await session.execute(
            text(
                f'INSERT INTO {S}.changed_windows (dimension, segment, "window", window_start) '
                "SELECT * FROM unnest(CAST(:d AS text[]), CAST(:s AS text[]), CAST(:w AS text[]),"
                " CAST(:t AS timestamptz[]))"
            ),
            {
                "d": [k[0] for k in windows],
                "s": [k[1] for k in windows],
                "w": [k[2] for k in windows],
                "t": [k[3] for k in windows],
            },
        )
    if change.removed:
        await session.execute(
            text(
                f"DELETE FROM {S}.accept_samples x USING unnest(CAST(:d AS text[]), CAST(:s AS text[]),"
                " CAST(:a AS text[])) AS r(d, s, a) WHERE x.dimension = r.d AND x.segment = r.s"
                " AND x.assignment_id = r.a"
            ),
            {
                "d": [k[0] for k in change.removed],
                "s": [k[1] for k in change.removed],
                "a": [k[2] for k in change.removed],
            },
        )
    if change.added:
        keys_added = sorted(change.added)
        await session.execute(
            text(
                f"INSERT INTO {S}.accept_samples AS x "
                "(dimension, segment, assignment_id, accepted_at, seconds) "
                "SELECT * FROM unnest(CAST(:d AS text[]), CAST(:s AS text[]), CAST(:a AS text[]),"
                " CAST(:t AS timestamptz[]), CAST(:v AS float8[])) "
                "ON CONFLICT (dimension, segment, assignment_id)"
                " DO UPDATE SET accepted_at = excluded.accepted_at, seconds = excluded.seconds"
            ),
            {
                "d": [k[0] for k in keys_added],
                "s": [k[1] for k in keys_added],
                "a": [k[2] for k in keys_added],
                "t": [change.added[k][0] for k in keys_added],
                "v": [change.added[k][1] for k in keys_added],
            },
        )


async def claim_changed(session: AsyncSession, limit: int) -> tuple[list[WindowKey], int]:
    """Take (and forget) up to ``limit`` change marks, oldest first; other replicas skip them.

    Answers the distinct windows and how many marks were taken. A window may be marked more
    than once (writers never wait on each other's marks, see ``add``); a mark left behind
    only makes one more snapshot of its window.
    """
    rows = (
        await session.execute(
            text(
                f"DELETE FROM {S}.changed_windows c USING ("
                f" SELECT ctid AS mark FROM {S}.changed_windows"
                ' ORDER BY window_start, dimension, segment, "window" LIMIT :limit FOR UPDATE SKIP LOCKED'
                ") AS t WHERE c.ctid = t.mark"
                ' RETURNING c.dimension, c.segment, c."window", c.window_start'
            ),
            {"limit": limit},
        )
    ).all()
    return sorted({WindowKey(r[0], r[1], r[2], r[3]) for r in rows}), len(rows)


async def counts_of(session: AsyncSession, keys: Sequence[WindowKey]) -> dict[WindowKey, dict[str, int]]:
    """The measures of each window."""
    found: dict[WindowKey, dict[str, int]] = {key: {} for key in keys}
    if not keys:
        return found
    rows = await session.execute(
        text(
            'SELECT a.dimension, a.segment, a."window", a.window_start, a.measure, a.count'
            f" FROM {S}.aggregates a"
            " JOIN unnest(CAST(:d AS text[]), CAST(:s AS text[]), CAST(:w AS text[]),"
            " CAST(:t AS timestamptz[])) AS k(d, s, w, t)"
            ' ON a.dimension = k.d AND a.segment = k.s AND a."window" = k.w AND a.window_start = k.t'
        ),
        _key_arrays(keys),
    )
    for d, s, w, t, measure, count in rows:
        found[WindowKey(d, s, w, t)][measure] = int(count)
    return found


async def seconds_of(
    session: AsyncSession, keys: Sequence[tuple[WindowKey, datetime]]
) -> dict[WindowKey, list[float]]:
    """The seconds-to-accept samples of each window (given with its end)."""
    found: dict[WindowKey, list[float]] = {key: [] for key, _ in keys}
    if not keys:
        return found
    rows = await session.execute(
        text(
            f"SELECT k.d, k.s, k.w, k.t, x.seconds FROM {S}.accept_samples x"
            " JOIN unnest(CAST(:d AS text[]), CAST(:s AS text[]), CAST(:w AS text[]),"
            " CAST(:t AS timestamptz[]), CAST(:e AS timestamptz[])) AS k(d, s, w, t, e)"
            " ON x.dimension = k.d AND x.segment = k.s AND x.accepted_at >= k.t AND x.accepted_at < k.e"
        ),
        {**_key_arrays([key for key, _ in keys]), "e": [end for _, end in keys]},
    )
    for d, s, w, t, seconds in rows:
        found[WindowKey(d, s, w, t)].append(float(seconds))
    return found


def _key_arrays(keys: Sequence[WindowKey]) -> dict[str, list[Any]]:
    return {
        "d": [k.dimension for k in keys],
        "s": [k.segment for k in keys],
        "w": [k.window for k in keys],
        "t": [k.window_start for k in keys],
    }


async def counts_between(
    session: AsyncSession,
    dimension: Dimension,
    window: WindowKind,
    start: datetime,
    end: datetime,
    segment: str | None = None,
) -> dict[str, dict[datetime, dict[str, int]]]:
    """Each segment's measures per window starting in ``[start, end)``: segment -> start -> measure."""
    found: dict[str, dict[datetime, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    rows = await session.execute(
        text(
            f"SELECT segment, window_start, measure, count FROM {S}.aggregates"
            ' WHERE dimension = :d AND "window" = :w AND window_start >= :start AND window_start < :end'
            " AND (CAST(:segment AS text) IS NULL OR segment = :segment)"
        ),
        {"d": dimension, "w": window, "start": start, "end": end, "segment": segment},
    )
    for seg, window_start, measure, count in rows:
        found[seg][window_start][measure] = int(count)
    return found


async def seconds_between(
    session: AsyncSession, dimension: Dimension, start: datetime, end: datetime, segment: str | None = None
) -> dict[str, list[tuple[datetime, float]]]:
    """Each segment's (accepted_at, seconds) samples accepted in ``[start, end)``."""
    found: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    rows = await session.execute(
        text(
            f"SELECT segment, accepted_at, seconds FROM {S}.accept_samples"
            " WHERE dimension = :d AND accepted_at >= :start AND accepted_at < :end"
            " AND (CAST(:segment AS text) IS NULL OR segment = :segment)"
        ),
        {"d": dimension, "start": start, "end": end, "segment": segment},
    )
    for seg, accepted_at, seconds in rows:
        found[seg].append((accepted_at, float(seconds)))
    return found
