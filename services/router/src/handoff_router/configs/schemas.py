"""The routing-config API's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from handoff_router.context import ConfigVersion


class ConfigVersionOut(BaseModel):
    """A stored version of the routing configuration."""

    version: int
    sha256: str
    created_at: datetime
    config: dict[str, Any]

    @classmethod
    def of(cls, version: ConfigVersion) -> ConfigVersionOut:
        return cls(
            version=version.version,
            sha256=version.sha256,
            created_at=version.created_at,
            config=version.config.model_dump(mode="json", exclude_none=True),
        )


class Skipped(BaseModel):
    rep_id: str
    reason: str


class ExplanationOut(BaseModel):
    """How a decision was made: the rule, the strategy, who was considered and who was skipped, why."""

    rule_id: str
    strategy: str | None = None
    candidates: list[str]
    skipped: list[Skipped]
    matched_by: str
    teams_tried: list[str]
    summary: str
    match: dict[str, Any] | None = None  # {account_id, by, score, note} (CONTRACT §11)
    identity: dict[str, Any] | None = None  # {person_key, existing_assignment_id}


class PreviewOut(BaseModel):
    """Which rule, team and rep would take an MQL now, and why; ``queued`` when nobody can."""

    rep_id: str | None
    team_id: str | None
    rule_id: str
    queued: bool
    sla_due_at: datetime | None
    config_version: int
    explanation: ExplanationOut


class Spread(BaseModel):
    """How many leads each rep, team and rule would get, how many would wait, and how each matched."""

    leads: int
    by_rep: dict[str, int]
    by_team: dict[str, int]
    by_rule: dict[str, int]
    queued: int
    by_match: dict[str, int]


class ActiveSpread(Spread):
    version: int


class SpreadDifference(BaseModel):
    """Candidate minus active (unchanged keys left out), and how many leads would change rep."""

    by_rep: dict[str, int]
    by_team: dict[str, int]
    by_rule: dict[str, int]
    queued: int
    leads_moved: int
    by_match: dict[str, int]


class SimulationOut(BaseModel):
    """A file of leads spread under the active config and, if sent, a candidate, and the difference."""

    leads: int
    active: ActiveSpread | None = Field(default=None, description="absent before any config is put")
    candidate: Spread | None = None
    difference: SpreadDifference | None = Field(default=None, description="when both are present")
