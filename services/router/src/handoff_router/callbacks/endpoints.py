"""The callbacks API (admin): signing secrets, deliveries and their tries, endpoints and circuits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from handoff_shared.http import problem_responses

from handoff_router.auth import Admin
from handoff_router.callbacks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
    EndpointOut,
    RetryWindowIn,
    SecretOut,
)
from handoff_router.callbacks.service import Callbacks

router = APIRouter(
    tags=["callbacks"],
    responses=problem_responses({401: "No token, or an unknown one", 403: "Not the admin token"}),
)  # every endpoint here takes the admin token
DeliveryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", description="the webhook-id")]
LeadId = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f]*$")]
NOT_FOUND = problem_responses({404: "Not found"})
SECRET = problem_responses(
    {
        404: "No such rep or manager in the active routing configuration (or none is active)",
        503: "HANDOFF_CALLBACK_SECRETS_KEY is not set: no secret can be sealed",
    }
)


def get_callbacks(request: Request) -> Callbacks:
    callbacks: Callbacks = request.app.state.callbacks
    return callbacks


CallbacksService = Annotated[Callbacks, Depends(get_callbacks)]


@router.post("/v1/reps/{rep_id}/callback-secret", status_code=201, responses=SECRET)
async def rep_secret(rep_id: str, _: Admin, callbacks: CallbacksService) -> SecretOut:
    """Issue the rep's signing secret (admin), shown once. The previous one signs on for the grace period."""
    return await callbacks.issue_secret("rep", rep_id)


@router.post("/v1/managers/{manager_id}/callback-secret", status_code=201, responses=SECRET)
async def manager_secret(manager_id: str, _: Admin, callbacks: CallbacksService) -> SecretOut:
    """Issue the manager's signing secret (admin), shown once."""
    return await callbacks.issue_secret("manager", manager_id)


@router.get("/v1/deliveries")
async def list_deliveries(
    _: Admin,
    callbacks: CallbacksService,
    status: DeliveryStatus | None = None,
    endpoint: Annotated[
        str | None,
        Query(description="rep:<id> or manager:<id>", pattern=r"^(rep|manager):[A-Za-z0-9._:@-]{1,200}$"),
    ] = None,
    lead_id: LeadId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """Callback deliveries, newest first (admin)."""
    return await callbacks.deliveries(status, endpoint, lead_id, limit)


@router.get("/v1/deliveries/{delivery_id}", responses=NOT_FOUND)
async def show_delivery(delivery_id: DeliveryId, _: Admin, callbacks: CallbacksService) -> DeliveryDetail:
    """One delivery, its body and every try (admin)."""
    return await callbacks.delivery(delivery_id)


@router.post("/v1/deliveries/{delivery_id}/redeliver", responses=NOT_FOUND)
async def redeliver(delivery_id: DeliveryId, _: Admin, callbacks: CallbacksService) -> DeliveryOut:
    """Send a delivery again now, with the same webhook-id and body (admin)."""
    return await callbacks.redeliver(delivery_id)


@router.get("/v1/callbacks/endpoints")
async def endpoints(_: Admin, callbacks: CallbacksService) -> list[EndpointOut]:
    """Each endpoint's circuit, last success, failure streak and pending deliveries (admin)."""
    return await callbacks.endpoints()


EndpointId = Annotated[
    str, Path(description="rep:<id> or manager:<id>", pattern=r"^(rep|manager):[A-Za-z0-9._:@-]{1,200}$")
]


@router.put("/v1/callbacks/endpoints/{endpoint}/retry-window", status_code=204, responses=NOT_FOUND)
async def set_retry_window(
    endpoint: EndpointId, body: RetryWindowIn, _: Admin, callbacks: CallbacksService
) -> None:
    """Give one endpoint a retry window of its own (admin): its deliveries are tried until this
    old, then fail visibly. ``null`` returns it to ``HANDOFF_CALLBACK_RETRY_WINDOW``."""
    await callbacks.set_retry_window(endpoint, body.retry_window)
