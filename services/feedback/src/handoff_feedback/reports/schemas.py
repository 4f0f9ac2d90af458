"""What the reports answer (typed, so the OpenAPI document describes every answer)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Figures(BaseModel):
    """The fields of ``scoring.feedback_snapshot`` for one segment over one range, and more."""

    segment: dict[str, str]
    segment_key: str
    window_start: datetime
    window_end: datetime
    mqls: int
    assigned: int
    accepted: int
    rejected: int
    expired: int
    decisions: int
    rejected_by_reason: dict[str, int]
    acceptance_rate: float
    seconds_to_accept_p50: float | None
    seconds_to_accept_p90: float | None
    sqls: int
    disqualified: int
    disqualified_by_reason: dict[str, int]
    sal_to_sql_rate: float
    escalations: dict[str, int]


class Summary(BaseModel):
    group_by: str
    timezone: str
    window_start: datetime
    window_end: datetime
    rows: list[Figures]


class Timeseries(BaseModel):
    segment: dict[str, str]
    segment_key: str
    window: str
    timezone: str
    total: Figures
    points: list[Figures]


class ReasonShare(BaseModel):
    reason: str
    count: int
    share: float


class SegmentRejections(BaseModel):
    segment: dict[str, str]
    segment_key: str
    rejected: int
    reasons: list[ReasonShare]


class Rejections(BaseModel):
    group_by: str
    window_start: datetime
    window_end: datetime
    rows: list[SegmentRejections]


class CountsOut(BaseModel):
    accepted: int
    rejected: int
    sqls: int


class EvidenceOut(BaseModel):
    test: str
    rep: CountsOut
    rest_of_team: CountsOut
    rep_rate: float
    rest_rate: float
    p_value: float


class SignalOut(BaseModel):
    kind: str
    flagged: bool
    why: str
    evidence: EvidenceOut | None


class RepRow(BaseModel):
    team_id: str
    rep_id: str
    accepted: int
    rejected: int
    sqls: int
    acceptance_rate: float
    sal_to_sql_rate: float
    flagged: bool
    signals: list[SignalOut]


class Reps(BaseModel):
    window_start: datetime
    window_end: datetime
    alpha: float
    min_sample: int
    test: str
    rows: list[RepRow]


class AlertOut(BaseModel):
    segment: dict[str, str]
    segment_key: str
    dimension: str
    direction: str
    threshold: float
    acceptance_rate: float | None
    decisions: int | None
    window_start: datetime | None
    since: datetime | None


class Thresholds(BaseModel):
    """The thresholds alerts are judged by: the newest routing config's ``alerts`` (its
    ``config_version``), or the ``HANDOFF_ALERT_*`` settings before any config was seen (null)."""

    acceptance_below: float
    acceptance_above: float
    min_decisions: int
    config_version: int | None


class Alerts(BaseModel):
    firing: list[AlertOut]
    thresholds: Thresholds
