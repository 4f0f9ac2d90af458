"""The sender against a real HTTP server on loopback: addresses inside the network are refused
at delivery time, after DNS resolution, unless allowed; each URL keeps its own pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from handoff_router.callbacks.sender import Sender

from tests.callback_receiver import Receiver

BODY = b'{"type":"lead.assigned"}'


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()


def _sender(*, allow_private: bool) -> Sender:
    return Sender(connect_timeout=2, total_timeout=5, per_url_connections=2, allow_private=allow_private)


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
