"""The callbacks API's response models."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from handoff_shared.settings import Duration
from pydantic import BaseModel, Field, field_validator

DeliveryStatus = Literal["pending", "delivered", "failed"]


class SecretOut(BaseModel):
    """A new signing secret: shown once, never again."""

    secret: str = Field(description="whsec_<base64>: the key is the base64 part")
    endpoint: str
    previous_valid_until: datetime | None = Field(
        None, description="until when the secret it replaces still signs (rotation grace period)"
    )


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    latency_ms: float
    status_code: int | None
    error_class: str | None
    response_excerpt: str | None
    outcome: str
    probe: bool


class DeliveryOut(BaseModel):
    delivery_id: str = Field(description="the webhook-id, the same on every try")
    endpoint: str
    channel: str = Field("callback", description="callback (signed webhook), slack or email")
    url: str | None
    event_id: str
    event_type: str
    lead_id: str | None
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    failure_reason: str | None
    waiting_for: str | None = Field(
        None, description="why a pending delivery is not being sent: secret, circuit_open, endpoint_gone"
    )

    @classmethod
    def of(cls, row: Any, waiting_for: str | None = None) -> DeliveryOut:
        return cls(
            delivery_id=row.delivery_id,
            endpoint=row.endpoint_id,
            channel=row.channel,
            url=row.url,
            event_id=row.event_id,
            event_type=row.event_type,
            lead_id=row.lead_id,
            status=row.status,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            finished_at=row.finished_at,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            failure_reason=row.failure_reason,
            waiting_for=waiting_for,
        )


class DeliveryDetail(DeliveryOut):
    attempts_made: list[AttemptOut]
    body: dict[str, Any] = Field(description="the exact JSON sent on every try")


class EndpointOut(BaseModel):
    endpoint: str
    owner_kind: Literal["rep", "manager"]
    owner_id: str
    url: str | None
    circuit: Literal["closed", "open", "half_open", "gone"]
    failure_streak: int
    down_since: datetime | None
    probe_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    has_secret: bool
    pending: int
    unreachable: bool = Field(
        description="down for at least callbacks.unreachable_after: routing skips the rep"
    )
    retry_window: timedelta | None = Field(
        None, description="this endpoint's own retry window; null: HANDOFF_CALLBACK_RETRY_WINDOW"
    )


class RetryWindowIn(BaseModel):
    """An endpoint's own retry window: tries go on until a delivery is this old, then it fails."""

    retry_window: Duration | None = Field(
        description="e.g. 6h, 3d; between 1m and 30d; null returns to HANDOFF_CALLBACK_RETRY_WINDOW",
    )

    @field_validator("retry_window")
    @classmethod
    def _bounded(cls, window: timedelta | None) -> timedelta | None:
        if window is not None and not timedelta(minutes=1) <= window <= timedelta(days=30):
            raise ValueError("must be between 1m and 30d")
        return window
