"""The reports: sums of the stored day windows over a range, with exact percentiles of the
samples in it, and the rep signals over the same range."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback import aggregates, alerts
from handoff_feedback.alert_rules import rule_in_force
from handoff_feedback.outcomes.segments import Dimension, segment_of
from handoff_feedback.outcomes.signals import Counts, SignalPolicy, signals_of
from handoff_feedback.outcomes.tally import Tally, tally_of
from handoff_feedback.outcomes.windows import WindowKind, window_of
from handoff_feedback.reports import schemas
from handoff_feedback.settings import Settings


def figures(key: str, start: datetime, end: datetime, tally: Tally) -> schemas.Figures:
    return schemas.Figures(
        segment=segment_of(key),
        segment_key=key,
        window_start=start,
        window_end=end,
        mqls=tally.mqls,
        assigned=tally.assigned,
        accepted=tally.accepted,
        rejected=tally.rejected,
        expired=tally.expired,
        decisions=tally.decisions,
        rejected_by_reason=tally.rejected_by_reason,
        acceptance_rate=tally.acceptance_rate,
        seconds_to_accept_p50=tally.seconds_to_accept_p50,
        seconds_to_accept_p90=tally.seconds_to_accept_p90,
        sqls=tally.sqls,
        disqualified=tally.disqualified,
        disqualified_by_reason=tally.disqualified_by_reason,
        sal_to_sql_rate=tally.sal_to_sql_rate,
        escalations=tally.escalations,
    )


def _summed(windows: Iterable[Mapping[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counts in windows:
        total.update(counts)
    return total


class Reports:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def summary(
        self, session: AsyncSession, group_by: Dimension, start: datetime, end: datetime
    ) -> schemas.Summary:
        counts = await aggregates.counts_between(session, group_by, "day", start, end)
        samples = await aggregates.seconds_between(session, group_by, start, end)
        rows = [
            figures(key, start, end, tally_of(_summed(by_window.values()), [s for _, s in samples[key]]))
            for key, by_window in sorted(counts.items())
        ]
        return schemas.Summary(
            group_by=group_by,
            timezone=self.settings.report_timezone,
            window_start=start,
            window_end=end,
            rows=rows,
        )

    async def timeseries(
        self,
        session: AsyncSession,
        dimension: Dimension,
        key: str,
        window: WindowKind,
        start: datetime,
        end: datetime,
    ) -> schemas.Timeseries:
        zone = self.settings.zone
        start = window_of(start, window, zone)[0]
        counts = (await aggregates.counts_between(session, dimension, window, start, end, key)).get(key, {})
        samples = (await aggregates.seconds_between(session, dimension, start, end, key)).get(key, [])
        by_window: dict[datetime, list[float]] = defaultdict(list)
        for accepted_at, seconds in samples:
            by_window[window_of(accepted_at, window, zone)[0]].append(seconds)
        points = []
        moment = start
        while moment < end:
            window_end = window_of(moment, window, zone)[1]
            points.append(
                figures(key, moment, window_end, tally_of(counts.get(moment, {}), by_window[moment]))
            )
            moment = window_end
        total = tally_of(_summed(counts.values()), [s for _, s in samples])
        return schemas.Timeseries(
            segment=segment_of(key),
            segment_key=key,
            window=window,
            timezone=self.settings.report_timezone,
            total=figures(key, start, end, total),
            points=points,
        )

    async def rejections(
        self, session: AsyncSession, group_by: Dimension, start: datetime, end: datetime
    ) -> schemas.Rejections:
        summary = await self.summary(session, group_by, start, end)
        rows = [
            schemas.SegmentRejections(
                segment=row.segment,
                segment_key=row.segment_key,
                rejected=row.rejected,
                reasons=[
                    schemas.ReasonShare(reason=reason, count=n, share=n / row.rejected)
                    for reason, n in sorted(
                        row.rejected_by_reason.items(), key=lambda item: (-item[1], item[0])
                    )
                ],
            )
            for row in summary.rows
            if row.rejected
        ]
        return schemas.Rejections(group_by=group_by, window_start=start, window_end=end, rows=rows)

    async def reps(
        self, session: AsyncSession, start: datetime, end: datetime, team: str | None
    ) -> schemas.Reps:
        settings = self.settings
        policy = SignalPolicy(
            settings.signal_alpha, settings.signal_min_sample, settings.signal_rubber_stamp_acceptance
        )
        team_counts = {
            segment_of(key)["team"]: _counts(_summed(w.values()))
            for key, w in (await aggregates.counts_between(session, "team", "day", start, end)).items()
        }
        rows = []
        for key, by_window in sorted(
            (await aggregates.counts_between(session, "team_rep", "day", start, end)).items()
        ):
            ids = segment_of(key)
            if team is not None and ids["team"] != team:
                continue
            rep = _counts(_summed(by_window.values()))
            signals = signals_of(rep, team_counts.get(ids["team"], rep), policy)
            rows.append(
                schemas.RepRow(
                    team_id=ids["team"],
                    rep_id=ids["rep"],
                    accepted=rep.accepted,
                    rejected=rep.rejected,
                    sqls=rep.sqls,
                    acceptance_rate=rep.acceptance_rate,
                    sal_to_sql_rate=rep.sal_to_sql_rate,
                    flagged=any(s.flagged for s in signals),
                    signals=[
                        schemas.SignalOut(
                            kind=s.kind,
                            flagged=s.flagged,
                            why=s.why,
                            evidence=schemas.EvidenceOut.model_validate(asdict(s.evidence))
                            if s.evidence
                            else None,
                        )
                        for s in signals
                    ],
                )
            )
        rows.sort(key=lambda r: (not r.flagged, r.team_id, r.rep_id))
        return schemas.Reps(
            window_start=start,
            window_end=end,
            alpha=policy.alpha,
            min_sample=policy.min_sample,
            test="Fisher's exact test, one-sided, rep vs the rest of their team",
            rows=rows,
        )

    async def alerts(self, session: AsyncSession) -> schemas.Alerts:
        rule, version = await rule_in_force(session, self.settings)
        found = []
        for dimension, key, below, above, judged, rate, decisions, since in await alerts.firing(session):
            for direction, on, threshold in (
                ("below", below, rule.acceptance_below),
                ("above", above, rule.acceptance_above),
            ):
                if on:
                    found.append(
                        schemas.AlertOut(
                            segment=segment_of(key),
                            segment_key=key,
                            dimension=dimension,
                            direction=direction,
                            threshold=threshold,
                            acceptance_rate=rate,
                            decisions=decisions,
                            window_start=judged,
                            since=since,
                        )
                    )
        thresholds = schemas.Thresholds(
            acceptance_below=rule.acceptance_below,
            acceptance_above=rule.acceptance_above,
            min_decisions=rule.min_decisions,
            config_version=version,
        )
        return schemas.Alerts(firing=found, thresholds=thresholds)


def _counts(counts: Mapping[str, int]) -> Counts:
    return Counts(counts.get("accepted", 0), counts.get("rejected", 0), counts.get("sqls", 0))
