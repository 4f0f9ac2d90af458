"""Every refusal of the router's use cases has its HTTP status, in the one mapping."""

from __future__ import annotations

import importlib
import pkgutil

import handoff_router
import httpx
import pytest
from handoff_router.app import create_app
from handoff_router.assignments.errors import InvalidReason
from handoff_router.assignments.service import _check_reason
from handoff_router.errors import ERROR_STATUSES
from handoff_router.settings import RouterSettings
from handoff_shared.http import DomainError


def domain_errors() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(handoff_router.__path__, "handoff_router."):
        if module.name.endswith(".errors"):
            importlib.import_module(module.name)
    found: set[type[DomainError]] = set()
    pending = list(DomainError.__subclasses__())
    while pending:
        kind = pending.pop()
        pending += kind.__subclasses__()
        if kind.__module__.startswith("handoff_router."):
            found.add(kind)
    return found


def test_every_domain_error_of_the_router_is_mapped_to_a_status() -> None:
    errors = domain_errors()
    assert len(errors) >= 10
    assert errors - set(ERROR_STATUSES) == set()


def test_without_an_active_config_the_default_reasons_hold() -> None:
    _check_reason(None, "not_icp", None)
    with pytest.raises(InvalidReason, match="needs a note"):
        _check_reason(None, "other", " ")
    with pytest.raises(InvalidReason, match="too_tired"):
        _check_reason(None, "too_tired", None)


async def test_authentication_refusals_are_problems_and_a_401_says_how_to_authenticate() -> None:
    settings = RouterSettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", admin_token="adm")
    transport = httpx.ASGITransport(app=create_app(settings))  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        anonymous = await client.get("/v1/reps/me/assignments")
        admin = await client.get("/v1/reps/me/assignments", headers={"Authorization": "Bearer adm"})

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.json()["detail"] == "a bearer token is required"
    assert (admin.status_code, admin.json()["title"]) == (403, "Forbidden")
    assert "www-authenticate" not in admin.headers
