"""Configurations and leads for the routing core's tests: plain data, no fixtures."""

from __future__ import annotations

from typing import Any

from handoff_router.routing.config import RoutingConfig, validate_config


def rep(rep_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rep_id,
        "email": f"{rep_id}@example.com",
        "timezone": "UTC",
        "callback_url": f"https://tools.example.com/{rep_id}",
        **extra,
    }


def config_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sla": {"accept_within": "4h"},
        "reps": [
            rep("ana", weight=3),
            rep("ben"),
            rep("cy", max_open=1),
            rep("dee", timezone="America/New_York"),
            rep("fb"),
        ],
        "managers": [
            {"id": "mgr", "email": "mgr@example.com", "callback_url": "https://tools.example.com/mgr"}
        ],
        "teams": [
            {"id": "dach", "strategy": "weighted_round_robin", "members": ["ana", "ben"]},
            {"id": "fr", "strategy": "round_robin", "members": ["cy"]},
            {"id": "us", "strategy": "least_loaded", "members": ["dee", "ben"]},
            {"id": "overflow", "strategy": "round_robin", "members": ["fb"]},
        ],
        "accounts": [{"domain": "acme.io", "owner": "ben"}],
        "rules": [
            {"id": "dach", "when": {"country": ["DE", "AT", "CH"]}, "team": "dach"},
            {"id": "france", "when": {"country": "FR"}, "team": "fr"},
            {"id": "us-big", "when": {"country": ["US"], "company.employees": {"gte": 1000}}, "team": "us"},
        ],
        "fallback_team": "overflow",
    }
    data.update(overrides)
    return data


def config(**overrides: Any) -> RoutingConfig:
    return validate_config(config_data(**overrides))


def lead(lead_id: str = "lead-1", **fields: Any) -> dict[str, Any]:
    return {"lead_id": lead_id, "email": "pat@example.com", **fields}
