"""A small HTTP/1.1 client for callbacks: one POST on a kept-alive connection, on asyncio streams.

httpx costs about a millisecond of CPU per POST (httpcore's pool checks every connection of a
pool for expiry on each request, through anyio's socket attributes), as much as all the
router's other work for a lead. A callback needs far less: POST a body with a few headers to
a checked address, read the status, ``Retry-After`` and the start of the answer, keep the
connection for the next one. The HTTP/1.1 protocol itself (request framing, answers framed by
Content-Length, chunks or the end of the connection, interim answers, keep-alive or close) is
``h11``'s, the well-kept state machine httpx itself runs on; this module only moves its bytes
over an asyncio connection and keeps the connections. No redirects (a 3xx is an answer), no
proxies, no compression, no cookies, no HTTP/2.

The caller bounds the whole call with a timeout; the connect is bounded on its own. A
connection goes back to its pool only when its answer was read to the end and neither side
asked to close it; one the server closed while idle is dropped before use. An answer's body
is read up to ``MAX_BODY_KEPT`` bytes and no further: a longer (or endless) one is cut there
and its connection closed.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import h11

MAX_LINE = 64 * 1024  # a status or header block longer than this is a protocol error
MAX_BODY_KEPT = 64 * 1024  # of an answer's body, the first bytes are kept (for the excerpt)
READ = 64 * 1024


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as h11 reads it, or stopped short."""


class ClosedUnanswered(ProtocolError):
    """The server closed the connection before a byte of the answer (on a kept-alive
    connection: it closed it while idle, and the request crossed the close)."""


class ConnectFailed(Exception):
    """No connection could be made (refused, unreachable, TLS handshake failed)."""


@dataclass(frozen=True)
class Answer:
    """What the server answered: the status, its headers (lower-case names; repeated ones
    joined with ``, ``), the first ``MAX_BODY_KEPT`` bytes of the body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One TCP (or TLS) connection to a server, used for one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_LINE)

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        server_hostname: str | None,
        timeout: float,
    ) -> Connection:
        """Connect to ``host:port`` (an address), with TLS for ``server_hostname`` when ``tls``."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=server_hostname if tls is not None else None,
                    limit=MAX_LINE,
                )
        except TimeoutError:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        return cls(reader, writer)

    @property
    def reusable(self) -> bool:
        """Still open on both sides (a server that closed it while idle sent an EOF we have read)."""
        return (
            self._protocol.our_state is h11.IDLE
            and not self._writer.is_closing()
            and not self._reader.at_eof()
        )

    def close(self) -> None:
        """Close at once (nothing to flush: a request is written whole or the connection is dropped)."""
        self._writer.close()

    async def post(self, request: h11.Request, body: bytes) -> tuple[Answer, bool]:
        """Send the request (from ``request_head``) and its body, read the answer; also answer
        whether the connection may carry another request."""
        protocol = self._protocol
        try:
            out = protocol.send(request) or b""
            out += protocol.send(h11.Data(data=body)) or b""
            out += protocol.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise ValueError(f"the request cannot be sent: {exc}") from exc
        self._writer.write(out)
        await self._writer.drain()
        status, kept, received = 0, bytearray(), False
        headers: dict[str, str] = {}
        try:
            while True:
                event = protocol.next_event()
                if event is h11.NEED_DATA:
                    chunk = await self._reader.read(READ)
                    received = received or bool(chunk)
                    protocol.receive_data(chunk)  # b"": the server closed its side
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue, 103 Early Hints: the real answer follows
                if isinstance(event, h11.Response):
                    status = event.status_code
                    for name, value in event.headers:
                        key, text = name.decode("latin-1"), value.decode("latin-1")
                        headers[key] = f"{headers[key]}, {text}" if key in headers else text
                elif isinstance(event, h11.Data):
                    kept += event.data[: MAX_BODY_KEPT - len(kept)]
                    if len(kept) >= MAX_BODY_KEPT:
                        # Enough for the excerpt: the rest (maybe endless) is never read, and
                        # the connection, its answer unfinished, is closed by the caller.
                        return Answer(status, headers, bytes(kept)), False
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    if not received:
                        raise ClosedUnanswered("the server closed the connection without an answer")
                    raise ProtocolError("the server closed the connection in the middle of the answer")
        except h11.RemoteProtocolError as exc:
            if not received:
                raise ClosedUnanswered("the server closed the connection without an answer") from exc
            raise ProtocolError(f"not an HTTP/1.1 answer as h11 reads it: {exc}") from exc
        keep = protocol.our_state is h11.DONE and protocol.their_state is h11.DONE
        if keep:
            protocol.start_next_cycle()
        return Answer(status, headers, bytes(kept)), keep


def request_head(target: str, host: str, headers: dict[str, str], length: int) -> h11.Request:
    """The request line and headers of a POST of ``length`` bytes.

    Header names and values are ours (the signing headers, ``Host``); h11 refuses a CR or LF
    in one (it would split the request): ``ValueError``.
    """
    fields = [("Host", host), ("User-Agent", "handoff-router"), ("Accept", "*/*")]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        fields.append((name, value))
    fields.append(("Content-Length", str(length)))
    try:
        return h11.Request(method="POST", target=target, headers=fields)
    except h11.LocalProtocolError as exc:
        raise ValueError(
            f"a header or the target holds a line break or another character HTTP forbids: {exc}"
        ) from exc
