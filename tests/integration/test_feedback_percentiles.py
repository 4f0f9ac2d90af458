"""The snapshot's seconds-to-accept percentiles, worked out by PostgreSQL, equal the core's
exact percentiles over the same samples, for any set of segments asked at once."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from handoff_feedback import aggregates
from handoff_feedback.aggregates import WindowKey
from handoff_feedback.outcomes.segments import DIMENSIONS, segment_key
from handoff_feedback.outcomes.tally import Delta, Sample, percentile
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

pytestmark = pytest.mark.integration


def samples_of(tag: str, day: datetime, n: int) -> dict[str, Sample]:
    pick = random.Random(tag)
    found = {}
    for i in range(n):
        at = day + timedelta(seconds=pick.randrange(2 * 24 * 3600))  # this day and the next
        found[f"{tag}/{i}"] = Sample(
            at,
            float(pick.randrange(1, 5000)) / 4,
            f"src-{tag}-{i % 2}",
            f"camp-{tag}-{i % 3}",
            f"team-{tag}",
            f"rep-{tag}-{i % 4}",
            f"rule-{tag}",
        )
    return found


def expected(samples: dict[str, Sample], key: WindowKey, end: datetime) -> tuple[float | None, float | None]:
    values = [
        s.seconds
        for s in samples.values()
        if key.window_start <= s.accepted_at < end and s.segment(key.dimension) == key.segment
    ]
    return percentile(values, 0.5), percentile(values, 0.9)


@pytest.mark.parametrize("asked", [("source",), ("rep", "team_rep"), tuple(DIMENSIONS)])
async def test_percentiles_of_windows_match_the_exact_percentiles_of_their_samples(
    engine: AsyncEngine, asked: tuple[str, ...]
) -> None:
    tag = uuid.uuid4().hex[:8]
    day = datetime(2031, 1, 6, tzinfo=UTC) + timedelta(days=random.Random(tag).randrange(3000))
    samples = samples_of(tag, day, 60)
    async with AsyncSession(engine) as session, session.begin():
        await aggregates.add(session, Delta({}, samples, []), mark=False)
        keys: list[tuple[WindowKey, datetime]] = []
        for start, end in (
            (day, day + timedelta(days=1)),
            (day + timedelta(days=1), day + timedelta(days=2)),
        ):
            for dimension in asked:
                for segment in sorted({s.segment(dimension) for s in samples.values()}):  # type: ignore[arg-type]
                    keys.append((WindowKey(dimension, segment, "day", start), end))  # type: ignore[arg-type]
        missing = WindowKey("source", segment_key("source", {"source": f"nobody-{tag}"}), "day", day)
        keys.append((missing, day + timedelta(days=1)))
        found = await aggregates.percentiles_of(session, keys)
        await session.rollback()
    assert found[missing] == (None, None)
    assert len(keys) > len(asked) * 2
    for key, end in keys:
        assert found[key] == expected(samples, key, end), key  # the same interpolation, exactly
