"""The calendars' rows. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.calendars.busy import Span
from handoff_router.calendars.tables import rep_calendars


async def sync_feeds(session: AsyncSession, urls: Mapping[str, str], now: datetime) -> None:
    """The reps of a config just applied: a new or changed feed is read now; reps without one go."""
    c = rep_calendars
    if not urls:
        await session.execute(delete(c))
        return
    await session.execute(delete(c).where(c.c.rep_id.not_in(list(urls))))
    statement = insert(c).values(
        [{"rep_id": rep, "url": url, "next_read_at": now} for rep, url in urls.items()]
    )
    changed = c.c.url.is_distinct_from(statement.excluded.url)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[c.c.rep_id],
            # a changed feed is read now and says nothing until it is (its old spans were another's)
            set_={"url": statement.excluded.url, "next_read_at": now, "busy": [], "read_at": None},
            where=changed,
        )
    )
    # a config applied again reads every feed now (an operator's way to refresh)
    await session.execute(update(c).where(c.c.rep_id.in_(list(urls))).values(next_read_at=now))


async def claim_due(session: AsyncSession, now: datetime, limit: int, hold_until: datetime) -> list[Any]:
    """Feeds due for a read, locked and pushed to ``hold_until`` (another replica skips them)."""
    c = rep_calendars
    rows = (
        await session.execute(
            select(c.c.rep_id, c.c.url)
            .where(c.c.next_read_at <= now)
            .order_by(c.c.next_read_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if rows:
        await session.execute(
            update(c).where(c.c.rep_id.in_([row.rep_id for row in rows])).values(next_read_at=hold_until)
        )
    return list(rows)


async def record_read(
    session: AsyncSession,
    rep_id: str,
    url: str,
    spans: tuple[Span, ...],
    events: int,
    now: datetime,
    next_at: datetime,
) -> None:
    c = rep_calendars
    await session.execute(
        update(c)
        .where(c.c.rep_id == rep_id, c.c.url == url)
        .values(
            busy=[[start.isoformat(), end.isoformat()] for start, end in spans],
            events=events,
            read_at=now,
            next_read_at=next_at,
            failed_at=None,
            last_error=None,
        )
    )


async def record_failure(
    session: AsyncSession, rep_id: str, url: str, error: str, now: datetime, next_at: datetime
) -> None:
    """The read failed: the last known spans stay; the error is kept beside them."""
    c = rep_calendars
    await session.execute(
        update(c)
        .where(c.c.rep_id == rep_id, c.c.url == url)
        .values(failed_at=now, last_error=error[:500], next_read_at=next_at)
    )


async def all_feeds(session: AsyncSession) -> list[Any]:
    return list((await session.execute(select(rep_calendars))).all())


def spans_of(busy: list[list[str]], after: datetime) -> tuple[Span, ...]:
    """The stored spans still running after ``after``."""
    spans = ((datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in busy)
    return tuple(span for span in spans if span[1] > after)
