"""The HTTP edge of all three services under hostile requests (CONTRACT §13): credentials are
checked before any body is read (401 before 422), every body has a limit (413), a routing
config that stands for billions of nodes is refused fast without holding the event loop,
and odd input (a NUL byte, an endless duration, a broken CSV) is a 4xx, never a 500.
Afterwards the canary proves the router still assigns and publishes once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.hostile.canary import Canary
from tests.stack import Stack

pytestmark = pytest.mark.integration

YAML = {"Content-Type": "application/yaml"}
MB = 1024 * 1024


def _urls(stack: Stack) -> list[str]:
    return [stack.router_url, stack.sla_monitor_url, stack.feedback_url]


async def test_without_a_token_malformed_json_is_401_not_422(stack: Stack, canary: Canary) -> None:
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as anonymous:
        for path in ("/v1/route/preview", "/v1/assignments/asg-x/reject"):
            answer = await anonymous.post(
                path, content=b"{not json", headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
        bad_token = {"Authorization": "Bearer not-a-token"}
        answer = await anonymous.post("/v1/route/preview", content=b"{not json", headers=bad_token)
        assert answer.status_code == 401
    await canary.check()


async def test_without_a_token_invalid_queries_of_the_other_services_are_401(stack: Stack) -> None:
    for url, path in (
        (stack.feedback_url, "/v1/reports/summary?group_by=bogus&from=yesterday"),
        (stack.sla_monitor_url, "/v1/sla/overdue?limit=-5"),
    ):
        async with httpx.AsyncClient(base_url=url, timeout=30) as anonymous:
            answer = await anonymous.get(path)
            assert answer.status_code == 401, (url, answer.text)


async def test_a_large_unauthenticated_body_is_refused_before_it_is_read(stack: Stack) -> None:
    """50 MB sent to each service without a token: 401 (or 413) at once, the body never read."""
    for url in _urls(stack):
        async with httpx.AsyncClient(base_url=url, timeout=30) as anonymous:
            started = time.perf_counter()
            answer = await anonymous.put("/v1/routing-config", content=b"x" * (50 * MB))
            assert answer.status_code in {401, 404, 405, 413}, (url, answer.status_code)
            assert time.perf_counter() - started < 10


async def test_every_service_limits_the_body_size(stack: Stack) -> None:
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    for url in _urls(stack):
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=auth) as admin:
            answer = await admin.post("/v1/anything", content=b"x" * (2 * MB))
            assert answer.status_code == 413, (url, answer.status_code)
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30, headers=auth) as admin:
        answer = await admin.put("/v1/routing-config", content=b"a: 1\n" * (MB // 2), headers=YAML)
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(3 * 16):
                yield b"# " + b"x" * (64 * 1024 - 3) + b"\n"

        answer = await admin.put("/v1/routing-config", content=chunks(), headers=YAML)
        assert answer.status_code == 413


def merge_key_bomb(levels: int = 6, width: int = 9) -> str:
    """The issue's config: each level merges the one before ``width`` times."""
    lines = ["l0: &l0 {a: 1, b: 2, c: 3}"]
    for level in range(1, levels + 1):
        merged = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level}\n  <<: [{merged}]\n  x{level}: [{merged}]")
    return "\n".join(lines) + "\n"


async def test_a_merge_key_bomb_is_refused_fast_and_the_router_keeps_answering(
    admin: httpx.AsyncClient, stack: Stack, canary: Canary
) -> None:
    bomb = merge_key_bomb(levels=7)

    async def health_latencies() -> list[float]:
        latencies = []
        async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as probe:
            for _ in range(10):
                started = time.perf_counter()
                await probe.get("/healthz")
                latencies.append(time.perf_counter() - started)
        return latencies

    started = time.perf_counter()
    answer, latencies = await asyncio.gather(
        admin.put("/v1/routing-config", content=bomb.encode(), headers=YAML), health_latencies()
    )
    assert answer.status_code == 422, answer.text
    assert "aliases are expanded" in answer.text
    assert time.perf_counter() - started < 2
    assert max(latencies) < 1
    await canary.check()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"\x00", ""),
        (b"sla: {accept_within: 99999999999999d}\n", "sla.accept_within"),
        (b"a: &a [*a]\n", "line 1, column 4"),
        (b"[" * 5000 + b"]" * 5000, ""),
    ],
)
async def test_odd_config_bodies_are_422_with_their_path(
    admin: httpx.AsyncClient, body: bytes, path: str
) -> None:
    answer = await admin.put("/v1/routing-config", content=body, headers=YAML)
    assert answer.status_code == 422, answer.text
    assert path in {problem["path"] for problem in answer.json()["problems"]}


async def test_a_simulated_csv_with_a_newline_in_an_unquoted_field_is_422(admin: httpx.AsyncClient) -> None:
    broken = b"lead_id,email,country\nl-1,a@example.com,US\nl-2,b\r@example.com\n,DE\n"
    answer = await admin.post("/v1/route/simulate", files={"leads": ("leads.csv", broken, "text/csv")})
    assert 400 <= answer.status_code < 500, answer.text
