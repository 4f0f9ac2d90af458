"""The callbacks' small HTTP/1.1 client against raw servers on loopback: keep-alive, the ways an
answer's body is framed, interim answers, a server that closes, one that sends garbage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from handoff_router.callbacks.http1 import Connection, ProtocolError, request_head
from handoff_router.callbacks.sender import Sender
from handoff_shared.addresses import AddressPolicy

Reply = Callable[[bytes], bytes]


class RawServer:
    """Reads each request (head and Content-Length body), writes ``reply(request)``; counts connections."""

    def __init__(self, reply: Reply, *, close_after: bool = False) -> None:
        self.reply = reply
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def start(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                writer.write(self.reply(request))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def servers() -> AsyncIterator[list[RawServer]]:
    started: list[RawServer] = []
    yield started
    for server in started:
        await server.stop()


async def serve(servers: list[RawServer], reply: Reply, **options: bool) -> RawServer:
    server = await RawServer(reply, **options).start()
    servers.append(server)
    return server


def sender() -> Sender:
    return Sender(
        connect_timeout=2, total_timeout=2, per_url_connections=2, addresses=AddressPolicy(allow_private=True)
    )


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_one_connection_carries_every_post_in_turn(servers: list[RawServer]) -> None:
    server = await serve(servers, lambda _: OK)
    client = sender()
    try:
        for _ in range(5):
            sent = await client.post(
                f"http://127.0.0.1:{server.port}/hooks/ana?x=1", {"webhook-id": "m"}, b"{}"
            )
            assert (sent.attempt.status, sent.excerpt) == (200, "ok")
    finally:
        await client.close()
    assert server.connections == 1
    head = server.requests[0].split(b"\r\n")
    assert head[0] == b"POST /hooks/ana?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in head
    assert b"webhook-id: m" in head
    assert b"Content-Length: 2" in head
    assert server.requests[0].endswith(b"\r\n\r\n{}")


async def test_a_server_that_closes_after_each_answer_gets_a_new_connection_each_time(
    servers: list[RawServer],
) -> None:
    server = await serve(servers, lambda _: OK, close_after=True)
    client = sender()
    try:
        statuses = [
            (await client.post(f"http://127.0.0.1:{server.port}/h", {}, b"{}")).attempt for _ in range(3)
        ]
    finally:
        await client.close()
    assert [(a.status, a.error) for a in statuses] == [(200, None)] * 3
    assert server.connections == 3


@pytest.mark.parametrize(
    ("answer", "status", "excerpt"),
    [
        (CHUNKED, 200, "abcde"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", 201, "x"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, ""),
        (b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow", 429, "slow"),
        (b"HTTP/1.0 500 Oops\r\n\r\nto the end", 500, "to the end"),
    ],
)
async def test_answers_framed_every_way_are_read(
    servers: list[RawServer], answer: bytes, status: int, excerpt: str
) -> None:
    server = await serve(servers, lambda _: answer, close_after=True)
    client = sender()
    try:
        sent = await client.post(f"http://127.0.0.1:{server.port}/h", {}, b"{}")
    finally:
        await client.close()
    assert (sent.attempt.status, sent.excerpt) == (status, excerpt)
    if status == 429:
        assert sent.attempt.retry_after == "7"


async def test_garbage_or_silence_is_a_protocol_error(servers: list[RawServer]) -> None:
    garbage = await serve(servers, lambda _: b"SMTP ready\r\n\r\n")
    silent = await serve(servers, lambda _: b"", close_after=True)
    client = sender()
    try:
        first = await client.post(f"http://127.0.0.1:{garbage.port}/h", {}, b"{}")
        second = await client.post(f"http://127.0.0.1:{silent.port}/h", {}, b"{}")
    finally:
        await client.close()
    assert (first.attempt.status, first.attempt.error) == (None, "remoteprotocolerror")
    assert (second.attempt.status, second.attempt.error) == (None, "remoteprotocolerror")


async def test_a_server_that_never_answers_is_a_timeout() -> None:
    release, finished = asyncio.Event(), asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()
        finished.set()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Sender(
        connect_timeout=1,
        total_timeout=0.3,
        per_url_connections=1,
        addresses=AddressPolicy(allow_private=True),
    )
    try:
        sent = await client.post(f"http://127.0.0.1:{port}/h", {}, b"{}")
    finally:
        await client.close()
        release.set()
        await finished.wait()
        server.close()
        await server.wait_closed()
    assert (sent.attempt.status, sent.attempt.error) == (None, "timeout")


async def test_a_refused_connection_is_a_connect_error() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    client = sender()
    try:
        sent = await client.post(f"http://127.0.0.1:{port}/h", {}, b"{}")
    finally:
        await client.close()
    assert (sent.attempt.status, sent.attempt.error) == (None, "connect_error")


async def test_an_idle_connection_the_server_closed_is_not_reused(servers: list[RawServer]) -> None:
    server = await serve(servers, lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", close_after=True)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    connection = Connection(reader, writer)
    answer, keep = await connection.post(request_head("/h", "x", {}, 0), b"")
    assert (answer.status, keep) == (200, True)  # the server did not say it closes ...
    await reader.read()  # ... but it did: the EOF is read
    assert not connection.reusable
    connection.close()


def test_a_line_break_in_a_header_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_head("/h", "x", {"webhook-id": "a\r\nX-Evil: 1"}, 0)


async def test_a_truncated_body_is_a_protocol_error(servers: list[RawServer]) -> None:
    server = await serve(
        servers, lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close_after=True
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    connection = Connection(reader, writer)
    with pytest.raises(ProtocolError):
        await connection.post(request_head("/h", "x", {}, 0), b"")
    connection.close()
