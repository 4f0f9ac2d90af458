"""The sender against a real HTTP server on loopback: addresses inside the network are refused
at delivery time, after DNS resolution, unless allowed; each URL keeps its own pool; a
redirect is an answer, never followed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from handoff_router.callbacks.sender import Sender
from handoff_shared.addresses import AddressPolicy, url_problems

from tests.callback_receiver import Receiver

BODY = b'{"type":"lead.assigned"}'


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()


def _sender(*, allow_private: bool) -> Sender:
    return Sender(
        connect_timeout=2,
        total_timeout=5,
        per_url_connections=2,
        addresses=AddressPolicy(allow_private=allow_private),
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_a_loopback_address_is_refused_at_delivery_time(receiver: Receiver, host: str) -> None:
    sender = _sender(allow_private=False)
    try:
        sent = await sender.post(f"http://{host}:{receiver.port}/hooks/ana", {}, BODY)
    finally:
        await sender.close()
    assert (sent.attempt.status, sent.attempt.error) == (None, "address_refused")
    assert receiver.arrivals == []  # refused before any connection


async def test_where_private_addresses_are_allowed_the_call_goes_to_the_checked_address(
    receiver: Receiver,
) -> None:
    sender = _sender(allow_private=True)
    try:
        for name in ("ana", "ana", "bob"):
            sent = await sender.post(
                f"http://localhost:{receiver.port}/hooks/{name}", {"webhook-id": "msg_1"}, BODY
            )
            assert (sent.attempt.status, sent.attempt.error) == (200, None)
    finally:
        await sender.close()
    assert [call.name for call in receiver.calls] == ["ana", "ana", "bob"]
    assert all(call.body == BODY for call in receiver.calls)


# Names that are not ``localhost``: the string check at config time lets them through, so only
# the check after DNS resolution stands between them and an address inside the network.
LOOPBACK_NAME = "sdr-tool.loopback.test"
PRIVATE_NAME = "sdr-tool.private.test"
RESOLVES = {LOOPBACK_NAME: "127.0.0.1", PRIVATE_NAME: "10.20.30.40"}


@pytest.fixture
async def names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event loop resolves the test's names to the addresses above (others as usual);
    answers the names looked up, in order."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    looked_up: list[str] = []

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return await real(RESOLVES.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return looked_up


@pytest.mark.parametrize(("name", "kind"), [(LOOPBACK_NAME, "loopback"), (PRIVATE_NAME, "private")])
async def test_a_name_that_resolves_inside_the_network_is_refused_after_resolution(
    receiver: Receiver, names: list[str], name: str, kind: str
) -> None:
    url = f"http://{name}:{receiver.port}/hooks/ana"
    assert url_problems(url) == []  # nothing to see in the URL itself
    sender = _sender(allow_private=False)
    try:
        sent = await sender.post(url, {}, BODY)
    finally:
        await sender.close()
    assert (sent.attempt.status, sent.attempt.error) == (None, "address_refused")
    assert sent.excerpt == f"{name} resolves to {RESOLVES[name]}, a {kind} address"
    assert names == [name]  # refused after resolving, not by the string check
    assert receiver.arrivals == []


async def test_where_private_addresses_are_allowed_a_name_resolving_to_loopback_is_called(
    receiver: Receiver, names: list[str]
) -> None:
    sender = _sender(allow_private=True)
    try:
        sent = await sender.post(f"http://{LOOPBACK_NAME}:{receiver.port}/hooks/ana", {}, BODY)
    finally:
        await sender.close()
    assert (sent.attempt.status, sent.attempt.error) == (200, None)
    assert names[0] == LOOPBACK_NAME
    assert [(call.name, call.body) for call in receiver.calls] == [("ana", BODY)]


async def test_an_allow_list_of_loopback_networks_lets_loopback_through_and_nothing_else(
    receiver: Receiver, names: list[str]
) -> None:
    sender = Sender(
        connect_timeout=2,
        total_timeout=5,
        per_url_connections=2,
        addresses=AddressPolicy.of(False, "127.0.0.0/8,::1/128"),
    )
    try:
        loopback = await sender.post(f"http://{LOOPBACK_NAME}:{receiver.port}/hooks/ana", {}, BODY)
        private = await sender.post(f"http://{PRIVATE_NAME}:{receiver.port}/hooks/bob", {}, BODY)
    finally:
        await sender.close()
    assert (loopback.attempt.status, loopback.attempt.error) == (200, None)
    assert (private.attempt.status, private.attempt.error) == (None, "address_refused")
    assert [call.name for call in receiver.calls] == ["ana"]


async def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.fail("ana", f"302:{receiver.url('elsewhere')}")
    sender = _sender(allow_private=True)
    try:
        sent = await sender.post(receiver.url("ana"), {}, BODY)
    finally:
        await sender.close()
    assert (sent.attempt.status, sent.attempt.error) == (302, None)
    assert [name for name, _, _ in receiver.arrivals] == ["ana"]


UNSPECIFIED = ("0\uff610\uff610\uff610", "0.0.0.0", "0")


@pytest.mark.parametrize(
    "host",
    [
        "0\uff610\uff610\uff610",
        "0.0.0.0",
        "0",
        "0x7f.1",
        "2130706433",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",
    ],
)
async def test_a_disguised_loopback_address_is_refused_at_delivery_time(
    receiver: Receiver, host: str
) -> None:
    """Other dots, one-number and hex IPv4, and IPv6 forms carrying 127.0.0.1 or 0.0.0.0: the
    address the client would connect to is the one judged (0.0.0.0 is never allowed)."""
    sender = _sender(allow_private=host in UNSPECIFIED)
    try:
        sent = await sender.post(f"http://{host}:{receiver.port}/hooks/ana", {}, BODY)
    finally:
        await sender.close()
    assert (sent.attempt.status, sent.attempt.error) == (None, "address_refused")
    assert receiver.arrivals == []


async def test_name_resolution_counts_against_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    never = asyncio.Event()

    async def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        await never.wait()

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    sender = Sender(connect_timeout=0.2, total_timeout=30, per_url_connections=1, addresses=AddressPolicy())
    try:
        sent = await asyncio.wait_for(sender.post("http://sdr-tool.slow-dns.test/h", {}, BODY), 5)
    finally:
        await sender.close()
    assert (sent.attempt.status, sent.attempt.error) == (None, "timeout")
    assert sent.latency_ms < 2000
