"""What callback tests share: a loopback receiver, a config whose reps call it, helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaProducer

from tests.callback_receiver import Receiver
from tests.stack import eventually, mql_data, structured_event, unique


@dataclass(frozen=True)
class Tools:
    """One test's reps (a two-person team for DE leads, a solo team for FR) and a manager,
    each with a hook on the receiver."""

    receiver: Receiver
    ana: str
    ben: str
    solo: str
    manager: str
    tag: str

    @classmethod
    def new(cls, receiver: Receiver) -> Tools:
        tag = unique("cb")
        return cls(receiver, f"{tag}-ana", f"{tag}-ben", f"{tag}-solo", f"{tag}-mgr", tag)

    def config(
        self, *, unreachable_after: str = "15m", skip_unreachable: bool = True, solo_is_fallback: bool = False
    ) -> dict[str, Any]:
        def rep(rep_id: str) -> dict[str, Any]:
            return {
                "id": rep_id,
                "email": f"{rep_id}@example.com",
                "callback_url": self.receiver.url(rep_id),
                "manager": self.manager,
            }

        return {
            "sla": {"accept_within": "4h"},
            "callbacks": {"unreachable_after": unreachable_after},
            # Leads left in the unassigned queue by other tests go to the fallback team when this
            # config is applied: it has its own rep, so they never reach this test's hooks.
            "reps": [rep(self.ana), rep(self.ben), rep(self.solo), rep(f"{self.tag}-overflow")],
            "managers": [
                {
                    "id": self.manager,
                    "email": "m@example.com",
                    "callback_url": self.receiver.url(self.manager),
                }
            ],
            "teams": [
                {
                    "id": f"{self.tag}-de",
                    "strategy": "round_robin",
                    "members": [self.ana, self.ben],
                    "skip_unreachable": skip_unreachable,
                },
                {"id": f"{self.tag}-fr", "members": [self.solo]},
                {"id": f"{self.tag}-overflow", "members": [f"{self.tag}-overflow"]},
            ],
            "rules": [
                {"id": "de", "when": {"country": ["DE"]}, "team": f"{self.tag}-de"},
                {"id": "fr", "when": {"country": ["FR"]}, "team": f"{self.tag}-fr"},
            ],
            "fallback_team": f"{self.tag}-fr" if solo_is_fallback else f"{self.tag}-overflow",
        }

    async def apply(self, admin: httpx.AsyncClient, **options: Any) -> None:
        response = await admin.put(
            "/v1/routing-config",
            content=yaml.safe_dump(self.config(**options)),
            headers={"Content-Type": "application/yaml"},
        )
        assert response.status_code == 200, response.text

    async def secret(self, admin: httpx.AsyncClient, owner: str, kind: str = "reps") -> str:
        """Issue ``owner``'s secret and let the receiver verify with it (and any earlier one)."""
        response = await admin.post(f"/v1/{kind}/{owner}/callback-secret")
        assert response.status_code == 201, response.text
        secret: str = response.json()["secret"]
        self.receiver.trust(owner, secret, *self.receiver.secrets.get(owner, []))
        return secret

    async def secrets_for_all(self, admin: httpx.AsyncClient) -> None:
        for rep in (self.ana, self.ben, self.solo):
            await self.secret(admin, rep)
        await self.secret(admin, self.manager, "managers")


async def send_mql(producer: AIOKafkaProducer, country: str = "DE", **fields: Any) -> str:
    data = mql_data(country=country, **fields)
    await producer.send_and_wait("lead.mql-created", structured_event(data), key=data["lead_id"].encode())
    lead_id: str = data["lead_id"]
    return lead_id


async def deliveries_of(admin: httpx.AsyncClient, lead_id: str) -> list[dict[str, Any]]:
    response = await admin.get("/v1/deliveries", params={"lead_id": lead_id})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def delivery_of(admin: httpx.AsyncClient, lead_id: str, timeout: float = 20) -> dict[str, Any]:
    """The one delivery of ``lead_id``'s assignment, once it exists."""

    async def one() -> dict[str, Any] | None:
        found = await deliveries_of(admin, lead_id)
        return found[0] if found else None

    return await eventually(one, timeout=timeout, what=f"a delivery for {lead_id}")


async def endpoint_state(admin: httpx.AsyncClient, endpoint: str) -> dict[str, Any] | None:
    response = await admin.get("/v1/callbacks/endpoints")
    assert response.status_code == 200, response.text
    return next((item for item in response.json() if item["endpoint"] == endpoint), None)
