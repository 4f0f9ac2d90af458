"""Snapshots and alerts: every snapshot interval, each window whose counts changed is published
as ``scoring.feedback_snapshot`` and its segment's acceptance alerts are judged.

A round takes the rebuild lock shared, without waiting: while ``handoff-feedback rebuild``
holds it, the round is skipped. Changed windows are claimed with ``SKIP LOCKED`` and
forgotten in the transaction that writes their snapshots to the outbox, so several replicas
share the work and none is lost. The overall day (``all``) is published every interval even
when nothing changed, so the scoring team sees the feed is alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import structlog
from handoff_shared import cloudevents, db, events
from handoff_shared.outbox import OutboxMessage
from handoff_shared.outbox import add as add_to_outbox
from handoff_shared.runtime import Runtime
from handoff_shared.stopping import wait_or_stop
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback import aggregates, alerts, tables
from handoff_feedback.aggregates import WindowKey
from handoff_feedback.alert_rules import alert_rule
from handoff_feedback.outcomes.alerts import SegmentAlerts, Transition, judge
from handoff_feedback.outcomes.segments import ALL, segment_of
from handoff_feedback.outcomes.tally import Tally, tally_of
from handoff_feedback.outcomes.windows import window_of
from handoff_feedback.settings import Settings
from handoff_feedback.tables import REBUILD_LOCK

log = structlog.get_logger(__name__)
SNAPSHOTS_DEFERRED = Counter(
    "handoff_feedback_snapshot_rounds_deferred_total",
    "Snapshot rounds put off because a rebuild holds the rebuild lock",
)
ALERTS_OPEN = Gauge(
    "handoff_feedback_acceptance_alerts_open",
    "Segments whose acceptance alert is firing now, by direction (each replica: the database's count)",
    ["direction"],
)
ALERTS_CHANGED = Counter(
    "handoff_feedback_acceptance_alerts_total",
    "scoring.acceptance_alert events emitted: below or above when one fires, recovered when it resolves",
    ["direction"],
)
for _direction in ("below", "above"):
    ALERTS_OPEN.labels(_direction)
for _change in ("below", "above", "recovered"):
    ALERTS_CHANGED.labels(_change)
SNAPSHOTS_SKIPPED = Counter(
    "handoff_feedback_snapshots_skipped_total",
    "Windows not published because their figures are not a valid snapshot (see the log)",
)
ALERT_DIMENSIONS = frozenset({"all", "source", "campaign", "source_campaign", "team", "rep", "rule"})
BATCH = 500


def snapshot_data(key: WindowKey, end: datetime, tally: Tally) -> events.FeedbackSnapshot:
    """The contract's snapshot of one window, with the other figures beside it."""
    return events.FeedbackSnapshot(
        segment=segment_of(key.segment),
        window_start=key.window_start,
        window_end=end,
        mqls=tally.mqls,
        accepted=tally.accepted,
        rejected=tally.rejected,
        rejected_by_reason=tally.rejected_by_reason,
        acceptance_rate=tally.acceptance_rate,
        seconds_to_accept_p50=tally.seconds_to_accept_p50,
        seconds_to_accept_p90=tally.seconds_to_accept_p90,
        sqls=tally.sqls,
        sal_to_sql_rate=tally.sal_to_sql_rate,
        dimension=key.dimension,
        segment_key=key.segment,
        window=key.window,
        assigned=tally.assigned,
        expired=tally.expired,
        disqualified=tally.disqualified,
        disqualified_by_reason=tally.disqualified_by_reason,
        escalations=tally.escalations,
        decisions=tally.decisions,
    )


class Snapshots:
    """Publishes changed windows and judges alerts, every ``snapshot_interval``."""

    def __init__(self, runtime: Runtime, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.runtime = runtime
        self.settings = settings
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.settings.snapshot_interval.total_seconds()
        while not stop.is_set():
            await self.mark_overall_day()
            while await self.publish_once() == BATCH:  # marks taken: a full batch, maybe more
                pass
            await self.count_open_alerts()  # also right after a restart, and for other replicas' alerts
            await wait_or_stop(stop, interval)

    async def count_open_alerts(self) -> None:
        """Set ``handoff_feedback_acceptance_alerts_open`` from the alert states."""
        async with db.transaction(self.runtime.sessions) as session:
            below, above = await alerts.open_counts(session)
        ALERTS_OPEN.labels("below").set(below)
        ALERTS_OPEN.labels("above").set(above)

    async def mark_overall_day(self) -> None:
        """Make today's overall window due, so something is published every interval."""
        start = window_of(self.clock(), "day", self.settings.zone)[0]
        async with db.transaction(self.runtime.sessions) as session:
            await session.execute(
                text(
                    'INSERT INTO feedback.changed_windows (dimension, segment, "window", window_start)'
                    " VALUES ('all', :all, 'day', :start)"
                ),
                {"all": ALL, "start": start},
            )

    async def publish_once(self) -> int:
        """Publish one batch of changed windows; answer how many change marks it took."""
        zone = self.settings.zone
        async with db.transaction(self.runtime.sessions) as session:
            if not await session.scalar(
                text("SELECT pg_try_advisory_xact_lock_shared(:key)"), {"key": REBUILD_LOCK}
            ):
                # A rebuild holds it: its aggregates are partial. Publishing or judging alerts
                # on them would be wrong; it marks every window when done.
                SNAPSHOTS_DEFERRED.inc()
                log.info("snapshots.deferred", reason="rebuild in progress")
                return 0
            keys, marks = await aggregates.claim_changed(session, BATCH)
            if not keys:
                return 0
            ends = {key: window_of(key.window_start, key.window, zone)[1] for key in keys}
            counts = await aggregates.counts_of(session, keys)
            percentiles = await aggregates.percentiles_of(session, [(key, ends[key]) for key in keys])
            tallies = {key: tally_of(counts[key], percentiles=percentiles[key]) for key in keys}
            messages: list[OutboxMessage] = []
            published: list[WindowKey] = []
            for key in keys:
                message = self._snapshot_or_none(key, ends[key], tallies[key])
                if message is not None:
                    messages.append(message)
                    published.append(key)
            snapshots = len(messages)
            changes = await self._judge(session, published, tallies, ends)
            messages += [message for _, message in changes]
            await add_to_outbox(session, tables.outbox, messages)
        for change, _ in changes:  # committed: now they are emitted
            ALERTS_CHANGED.labels(change.direction if change.state == "firing" else "recovered").inc()
        if changes:
            await self.count_open_alerts()
        self.runtime.relay.wake()
        log.info("snapshots.published", windows=snapshots, alerts=len(messages) - snapshots)
        return marks

    def _snapshot_or_none(self, key: WindowKey, end: datetime, tally: Tally) -> OutboxMessage | None:
        """The window's snapshot; None (logged, counted, its mark dropped) for a window whose
        figures are not a valid snapshot, so one bad window never stalls the others: were
        the batch rolled back, the same marks would be claimed again, forever."""
        try:
            if not tally.is_consistent:
                raise ValueError("negative counts, or more qualifications than acceptances")
            return self._snapshot(key, end, tally)
        except (ValidationError, ValueError) as error:
            SNAPSHOTS_SKIPPED.inc()
            log.error(
                "snapshot.skipped",
                dimension=key.dimension,
                segment=key.segment,
                window=key.window,
                window_start=key.window_start.isoformat(),
                error=str(error).splitlines()[0],
                hint="handoff-feedback rebuild recounts the aggregates",
            )
            return None

    def _snapshot(self, key: WindowKey, end: datetime, tally: Tally) -> OutboxMessage:
        event = cloudevents.new_event(
            events.FEEDBACK_SNAPSHOT,
            self.settings.event_source,
            key.segment,
            snapshot_data(key, end, tally),
            time=self.clock(),
        )
        kafka_key = f"{key.segment}|{key.window}|{events.format_rfc3339(key.window_start)}"
        return OutboxMessage.of_event(self.settings.topic_scoring_feedback, event, key=kafka_key)

    async def _judge(
        self,
        session: AsyncSession,
        keys: Sequence[WindowKey],
        tallies: Mapping[WindowKey, Tally],
        ends: Mapping[WindowKey, datetime],
    ) -> list[tuple[Transition, OutboxMessage]]:
        """The alerts that fire or resolve with these windows, each with its event."""
        judged = [
            k for k in keys if k.window == self.settings.alert_window and k.dimension in ALERT_DIMENSIONS
        ]
        if not judged:
            return []
        rule = await alert_rule(session, self.settings)
        states = await alerts.lock(session, [(k.dimension, k.segment) for k in judged])
        updated: dict[tuple[str, str], tuple[SegmentAlerts, float, int]] = {}
        messages: list[tuple[Transition, OutboxMessage]] = []
        now = self.clock()
        for key in sorted(judged, key=lambda k: k.window_start):
            segment = (key.dimension, key.segment)
            tally = tallies[key]
            state, changes = judge(rule, states[segment], key.window_start, tally.accepted, tally.rejected)
            states[segment] = state
            if state.judged_window == key.window_start:  # judged now: keep its latest figures
                updated[segment] = (state, tally.acceptance_rate, tally.decisions)
            messages += [(change, self._alert(key, ends[key], change, now)) for change in changes]
        await alerts.save(session, updated, now)
        return messages

    def _alert(self, key: WindowKey, end: datetime, change: Transition, now: datetime) -> OutboxMessage:
        data = events.AcceptanceAlert(
            segment=segment_of(key.segment),
            window_start=key.window_start,
            window_end=end,
            acceptance_rate=change.acceptance_rate,
            decisions=change.decisions,
            direction=change.direction,
            threshold=change.threshold,
            state=change.state,
            raised_at=now,
            dimension=key.dimension,
            segment_key=key.segment,
        )
        log.info("alert.changed", segment=key.segment, direction=change.direction, state=change.state)
        event = cloudevents.new_event(
            events.ACCEPTANCE_ALERT, self.settings.event_source, key.segment, data, time=now
        )
        return OutboxMessage.of_event(self.settings.topic_scoring_feedback, event, key=key.segment)
