"""The stored aggregates: counts per segment, window and measure; seconds-to-accept samples
(one per acceptance, with the lead's segment values);
and the windows changed since their last snapshot. Every write is one statement per batch.

A changed window is marked by inserting a row with no unique key: with one, a batch marking
a window that a snapshot transaction is publishing (it has deleted the mark, uncommitted)
would wait for that whole transaction; without, it never waits, and a window marked twice
is published once per claim."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback.outcomes.segments import DIMENSIONS, Dimension, segment_key, segment_of
from handoff_feedback.outcomes.tally import Delta, Sample
from handoff_feedback.outcomes.windows import WindowKind

S = "feedback"
# The sample columns a segment filters on (names checked against this before going into SQL).
ATTRIBUTES = frozenset(name for names in DIMENSIONS.values() for name in names)
SAMPLE_ATTRIBUTES = ("source", "campaign", "team", "rep", "rule")
# GROUPING(source, campaign, team, rep, rule): a bit set for each column a row is not grouped by.
_DIMENSION_OF_GROUPING: dict[int, Dimension] = {
    sum(1 << (len(SAMPLE_ATTRIBUTES) - 1 - n) for n, a in enumerate(SAMPLE_ATTRIBUTES) if a not in names): d
    for d, names in DIMENSIONS.items()
}


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
            text(f"DELETE FROM {S}.accept_samples WHERE assignment_id = ANY(CAST(:a AS text[]))"),
            {"a": sorted(change.removed)},
        )
    if change.added:
        ids = sorted(change.added)
        samples = [change.added[i] for i in ids]
        await session.execute(
            text(
                f"INSERT INTO {S}.accept_samples AS x "
                "(assignment_id, accepted_at, seconds, source, campaign, team, rep, rule) "
                "SELECT * FROM unnest(CAST(:a AS text[]), CAST(:t AS timestamptz[]), CAST(:v AS float8[]),"
                " CAST(:source AS text[]), CAST(:campaign AS text[]), CAST(:team AS text[]),"
                " CAST(:rep AS text[]), CAST(:rule AS text[])) "
                "ON CONFLICT (assignment_id) DO UPDATE SET accepted_at = excluded.accepted_at,"
                " seconds = excluded.seconds, source = excluded.source, campaign = excluded.campaign,"
                " team = excluded.team, rep = excluded.rep, rule = excluded.rule"
            ),
            {
                "a": ids,
                "t": [x.accepted_at for x in samples],
                "v": [x.seconds for x in samples],
                "source": [x.source for x in samples],
                "campaign": [x.campaign for x in samples],
                "team": [x.team for x in samples],
                "rep": [x.rep for x in samples],
                "rule": [x.rule for x in samples],
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


async def _samples_between(
    session: AsyncSession, start: datetime, end: datetime, filters: Mapping[str, str] | None = None
) -> list[Sample]:
    """The samples accepted in ``[start, end)``, of the segment ``filters`` names if given."""
    wanted: dict[str, str] = {name: value for name, value in (filters or {}).items() if name in ATTRIBUTES}
    where = "".join(f" AND {name} = :{name}" for name in sorted(wanted))
    parameters: dict[str, object] = {"start": start, "end": end, **wanted}
    rows = await session.execute(
        text(
            "SELECT accepted_at, seconds, source, campaign, team, rep, rule"
            f" FROM {S}.accept_samples WHERE accepted_at >= :start AND accepted_at < :end{where}"
        ),
        parameters,
    )
    return [Sample(*row) for row in rows]


async def percentiles_of(
    session: AsyncSession, keys: Sequence[tuple[WindowKey, datetime]]
) -> dict[WindowKey, tuple[float | None, float | None]]:
    """The seconds-to-accept p50 and p90 of each window (given with its end), worked out by
    PostgreSQL's ``percentile_cont`` (the same interpolation as ``tally.percentile``) in one
    statement: each time range's samples are read once and grouped by every dimension
    (``GROUPING SETS``), so only the figures travel, never the samples."""
    found: dict[WindowKey, tuple[float | None, float | None]] = {key: (None, None) for key, _ in keys}
    if not keys:
        return found
    ranges = sorted({(key.window_start, end) for key, end in keys})
    # Every dimension's set, whichever are asked for: GROUPING() needs each column grouped somewhere.
    sets = ", ".join(
        "(" + ", ".join(("r.i", *(f"x.{a}" for a in names))) + ")" for names in DIMENSIONS.values()
    )
    columns = ", ".join(f"x.{name}" for name in SAMPLE_ATTRIBUTES)
    rows = await session.execute(
        text(
            f"SELECT r.i, {columns}, GROUPING({columns}),"
            " percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY x.seconds)"
            " FROM unnest(CAST(:t AS timestamptz[]), CAST(:e AS timestamptz[])) WITH ORDINALITY AS r(t, e, i)"
            f" JOIN {S}.accept_samples x ON x.accepted_at >= r.t AND x.accepted_at < r.e"
            f" GROUP BY GROUPING SETS ({sets})"
        ),
        {"t": [t for t, _ in ranges], "e": [e for _, e in ranges]},
    )
    figures: dict[tuple[int, Dimension, str], tuple[float, float]] = {}
    for i, *values, grouping, (p50, p90) in rows:
        dimension = _DIMENSION_OF_GROUPING[grouping]
        segment = segment_key(dimension, dict(zip(SAMPLE_ATTRIBUTES, values, strict=True)))
        figures[(i, dimension, segment)] = (p50, p90)
    index = {r: i for i, r in enumerate(ranges, start=1)}
    for key, end in keys:
        found[key] = figures.get((index[(key.window_start, end)], key.dimension, key.segment), (None, None))
    return found


def _filters(dimension: Dimension, segment: str) -> dict[str, str] | None:
    """The segment's values to filter samples on in SQL; None for a string that is not the
    canonical key of a segment of ``dimension`` (then every sample of the range is split here,
    and none matches)."""
    try:
        values = segment_of(segment)
    except ValueError:
        return None
    return values if segment_key(dimension, values) == segment else None


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
    filters = _filters(dimension, segment) if segment is not None else None
    for sample in await _samples_between(session, start, end, filters):
        key = sample.segment(dimension)
        if segment is None or key == segment:
            found[key].append((sample.accepted_at, sample.seconds))
    return found
