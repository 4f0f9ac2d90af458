"""Routing configurations for integration tests, each with ids no other test uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from tests.stack import unique


@dataclass(frozen=True)
class Territory:
    """The ids of one test's config: a weighted 3:1 team for DE, a capped team for FR,
    a named account, and a fallback team."""

    ana: str
    ben: str
    cap: str
    fallback: str
    manager: str
    weighted_team: str
    capped_team: str
    fallback_team: str
    account_domain: str

    @classmethod
    def new(cls) -> Territory:
        tag = unique("t")
        return cls(
            ana=f"{tag}-ana",
            ben=f"{tag}-ben",
            cap=f"{tag}-cap",
            fallback=f"{tag}-fb",
            manager=f"{tag}-mgr",
            weighted_team=f"{tag}-dach",
            capped_team=f"{tag}-fr",
            fallback_team=f"{tag}-overflow",
            account_domain=f"{tag}.acme.io",
        )

    def config(self, **overrides: Any) -> dict[str, Any]:
        def rep(rep_id: str, **extra: Any) -> dict[str, Any]:
            return {
                "id": rep_id,
                "email": f"{rep_id}@example.com",
                "timezone": "Europe/Berlin",
                "callback_url": f"http://127.0.0.1:9/hooks/{rep_id}",
                "manager": self.manager,
                **extra,
            }

        config: dict[str, Any] = {
            "sla": {"accept_within": "4h"},
            "reps": [
                rep(self.ana, weight=3),
                rep(self.ben, weight=1),
                rep(self.cap, max_open=1),
                rep(self.fallback),
            ],
            "managers": [
                {"id": self.manager, "email": "mgr@example.com", "callback_url": "http://127.0.0.1:9/mgr"}
            ],
            "teams": [
                {
                    "id": self.weighted_team,
                    "strategy": "weighted_round_robin",
                    "members": [self.ana, self.ben],
                },
                {"id": self.capped_team, "strategy": "round_robin", "members": [self.cap]},
                {"id": self.fallback_team, "strategy": "least_loaded", "members": [self.fallback]},
            ],
            "accounts": [{"domain": self.account_domain, "owner": self.ben}],
            "rules": [
                {"id": "dach", "when": {"country": ["DE", "AT", "CH"]}, "team": self.weighted_team},
                {"id": "france", "when": {"country": ["FR"]}, "team": self.capped_team},
            ],
            "fallback_team": self.fallback_team,
        }
        config.update(overrides)
        return config

    async def apply(self, admin: httpx.AsyncClient, **overrides: Any) -> int:
        response = await admin.put(
            "/v1/routing-config",
            content=yaml.safe_dump(self.config(**overrides)),
            headers={"Content-Type": "application/yaml"},
        )
        assert response.status_code == 200, response.text
        version: int = response.json()["version"]
        return version

    async def token(self, admin: httpx.AsyncClient, rep_id: str) -> str:
        response = await admin.post(f"/v1/reps/{rep_id}/tokens")
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token
