"""Rep tokens (CONTRACT §13): an admin revokes every token of a rep at once, and a token of a
rep who is inactive or no longer in the config is refused."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.routing_configs import Territory
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def territory(admin: httpx.AsyncClient) -> Territory:
    """A routing config of this test's own, active."""
    territory = Territory.new()
    await territory.apply(admin)
    return territory


async def _status(stack: Stack, token: str) -> int:
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as client:
        answer = await client.get("/v1/reps/me/assignments", headers={"Authorization": f"Bearer {token}"})
        return answer.status_code


async def test_revoking_a_reps_tokens_stops_every_one_of_them(
    admin: httpx.AsyncClient, stack: Stack, territory: Territory
) -> None:
    first, second = [await territory.token(admin, territory.ana) for _ in range(2)]
    other = await territory.token(admin, territory.ben)
    assert [await _status(stack, token) for token in (first, second, other)] == [200, 200, 200]

    answer = await admin.delete(f"/v1/reps/{territory.ana}/tokens")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"rep_id": territory.ana, "tokens_revoked": 2}
    assert [await _status(stack, token) for token in (first, second, other)] == [401, 401, 200]
    assert (await admin.delete(f"/v1/reps/{territory.ana}/tokens")).json()["tokens_revoked"] == 0


async def test_only_an_admin_revokes_tokens(
    stack: Stack, admin: httpx.AsyncClient, territory: Territory
) -> None:
    token = await territory.token(admin, territory.ana)
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as client:
        assert (await client.delete(f"/v1/reps/{territory.ana}/tokens")).status_code == 401
        as_rep = await client.delete(
            f"/v1/reps/{territory.ana}/tokens", headers={"Authorization": f"Bearer {token}"}
        )
        assert as_rep.status_code == 403
    assert await _status(stack, token) == 200


async def test_tokens_of_inactive_and_removed_reps_are_refused(
    admin: httpx.AsyncClient, stack: Stack, territory: Territory
) -> None:
    ana, ben = await territory.token(admin, territory.ana), await territory.token(admin, territory.ben)
    config = territory.config()
    config["reps"][0]["active"] = False  # ana
    config["reps"] = [rep for rep in config["reps"] if rep["id"] != territory.ben]
    config["teams"][0]["members"] = [territory.ana]
    config["accounts"] = []
    await territory.apply(admin, **{key: config[key] for key in ("reps", "teams", "accounts")})

    assert await _status(stack, ana) == 401
    assert await _status(stack, ben) == 401

    await territory.apply(admin)  # both back, active: their tokens work again (never revoked)
    assert [await _status(stack, ana), await _status(stack, ben)] == [200, 200]
