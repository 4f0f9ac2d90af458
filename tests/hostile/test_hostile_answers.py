"""Hostile answers from SDR tools are recorded, not fatal (issue 22, item 4).

One rep's tool answers with a ``Retry-After`` of twenty digits, a non-ASCII ``Retry-After``,
a body with NUL bytes, or an endless chunked body; another rep's honest tool is called at the
same time. Every try of both is recorded, the honest tool gets each webhook exactly once, and
the hostile tool's tries are kept with a bounded, safe excerpt.

The hostile tool is a raw asyncio server on loopback (it sends bytes no HTTP library would).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.callback_receiver import Receiver
from tests.hostile.canary import Canary
from tests.stack import eventually, mql_data, structured_event, unique

pytestmark = pytest.mark.integration

ANSWERS = {
    "huge-retry-after": b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 99999999999999999999\r\n"
    b"Content-Length: 4\r\n\r\nbusy",
    "non-ascii-retry-after": b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: "
    + "\uff13\uff10 \u79d2 \u00b9\u00b2".encode()
    + b"\r\nContent-Length: 4\r\n\r\nbusy",
    "nul-body": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 10\r\n\r\nbad\x00\x00body\x01",
    "endless-chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
}
CHUNK = b"1000\r\n" + b"z" * 0x1000 + b"\r\n"


class HostileTool:
    """Answers every request on ``/hooks/<kind>`` with the raw bytes of ``ANSWERS[kind]``
    (``endless-chunks``: 4 KiB chunks until the client goes away)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.calls: dict[str, int] = dict.fromkeys(ANSWERS, 0)
        self.bytes_sent = 0

    async def start(self) -> HostileTool:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{kind}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            kind = head.split(b" ")[1].decode().rsplit("/", 1)[-1]
            self.calls[kind] += 1
            writer.write(ANSWERS[kind])
            await writer.drain()
            while kind == "endless-chunks":  # until the client hangs up
                writer.write(CHUNK)
                self.bytes_sent += len(CHUNK)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def hostile() -> AsyncIterator[HostileTool]:
    tool = await HostileTool().start()
    yield tool
    await tool.stop()


def config(tag: str, hostile: HostileTool, receiver: Receiver) -> dict[str, Any]:
    """One team per kind of hostile answer (country DE, FR, ES, IT) and an honest team (NL)."""
    countries = dict(zip(ANSWERS, ["DE", "FR", "ES", "IT"], strict=True))
    reps = [
        {"id": f"{tag}-{kind}", "email": f"{kind}@example.com", "callback_url": hostile.url(kind)}
        for kind in ANSWERS
    ]
    reps.append(
        {"id": f"{tag}-honest", "email": "honest@example.com", "callback_url": receiver.url(f"{tag}-honest")}
    )
    teams = [
        {"id": f"{tag}-team-{rep['id']}", "strategy": "round_robin", "members": [rep["id"]]} for rep in reps
    ]
    rules = [
        {"id": f"rule-{kind}", "when": {"country": [country]}, "team": f"{tag}-team-{tag}-{kind}"}
        for kind, country in countries.items()
    ]
    rules.append({"id": "rule-honest", "when": {"country": ["NL"]}, "team": f"{tag}-team-{tag}-honest"})
    return {
        "sla": {"accept_within": "4h"},
        "reps": reps,
        "teams": teams,
        "rules": rules,
        "fallback_team": f"{tag}-team-{tag}-honest",
    }


async def send_mql(producer: AIOKafkaProducer, lead_id: str, country: str) -> None:
    value = structured_event(mql_data(lead_id, country=country, email=f"{lead_id}@example.com"))
    await producer.send("lead.mql-created", value, key=lead_id.encode())


async def deliveries(engine: AsyncEngine, lead_ids: list[str]) -> dict[str, tuple[str, int, int]]:
    """Each lead's callback delivery: (status, attempts counted, attempts recorded)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT d.lead_id, d.status, d.attempts,"
                " (SELECT count(*) FROM router.callback_attempts a WHERE a.delivery_id = d.delivery_id)"
                " AS recorded"
                " FROM router.callback_deliveries d"
                " WHERE d.lead_id = ANY(:leads) AND d.event_type = 'lead.assigned'"
            ),
            {"leads": lead_ids},
        )
        return {row.lead_id: (row.status, row.attempts, row.recorded) for row in rows}


async def first_tries(engine: AsyncEngine, lead_ids: list[str]) -> dict[str, tuple[int | None, str | None]]:
    """Each lead's first recorded try: its status and excerpt."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT d.lead_id, a.status_code, a.response_excerpt FROM router.callback_attempts a"
                " JOIN router.callback_deliveries d USING (delivery_id)"
                " WHERE d.lead_id = ANY(:leads) AND a.number = 1"
            ),
            {"leads": lead_ids},
        )
        return {row.lead_id: (row.status_code, row.response_excerpt) for row in rows}


async def test_an_honest_tool_beside_hostile_ones_gets_each_webhook_once(
    canary: Canary,
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    engine: AsyncEngine,
    receiver: Receiver,
    hostile: HostileTool,
) -> None:
    tag = unique("hostile")
    response = await admin.put(
        "/v1/routing-config",
        content=yaml.safe_dump(config(tag, hostile, receiver)),
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    for rep in [*(f"{tag}-{kind}" for kind in ANSWERS), f"{tag}-honest"]:  # no secret, no callback
        issued = await admin.post(f"/v1/reps/{rep}/callback-secret")
        assert issued.status_code in (200, 201), issued.text
    receiver.trust(f"{tag}-honest", issued.json()["secret"])
    honest = [unique("honest") for _ in range(3)]
    odd = {kind: unique(kind) for kind in ANSWERS}
    countries = dict(zip(ANSWERS, ["DE", "FR", "ES", "IT"], strict=True))
    for kind, lead_id in odd.items():  # the hostile ones and the honest ones in the same moment
        await send_mql(producer, lead_id, countries[kind])
    for lead_id in honest:
        await send_mql(producer, lead_id, "NL")
    await producer.flush()

    async def all_recorded() -> dict[str, tuple[str, int, int]] | None:
        found = await deliveries(engine, [*honest, *odd.values()])
        done = (
            len(found) == len(honest) + len(odd)
            and all(found[lead][0] == "delivered" for lead in honest)
            and all(found[lead][2] >= 1 for lead in odd.values())
        )
        return found if done else None

    found = await eventually(all_recorded, timeout=60, interval=0.2, what="every try recorded")
    for lead in honest:
        assert found[lead] == ("delivered", 1, 1), found[lead]
    calls = receiver.received(f"{tag}-honest")
    assert sorted(call.event["data"]["lead_id"] for call in calls) == sorted(honest)  # each once

    tries = await first_tries(engine, list(odd.values()))
    statuses = {kind: tries[lead][0] for kind, lead in odd.items()}
    assert statuses == {
        "huge-retry-after": 503,
        "non-ascii-retry-after": 503,
        "nul-body": 500,
        "endless-chunks": 200,
    }
    assert tries[odd["nul-body"]][1] == "bad\ufffd\ufffdbody\ufffd"  # kept, as safe text
    assert len(tries[odd["endless-chunks"]][1] or "") == 500
    assert found[odd["endless-chunks"]][0] == "delivered"  # its status read, its body cut short
    assert hostile.bytes_sent < 64 * 1024 * 1024  # the endless answer was never read whole

    await canary.check()
