"""A small HTTP/1.1 client for callbacks: one POST on a kept-alive connection, on asyncio streams.

httpx costs about a millisecond of CPU per POST (httpcore's pool checks every connection of a
pool for expiry on each request, through anyio's socket attributes; h11 and httpx's models
do the rest), as much as all the router's other work for a lead. A callback needs far less:
POST a body with a few headers to a checked address, read the status, ``Retry-After`` and the
start of the answer, keep the connection for the next one. This does that and nothing more:
no redirects (a 3xx is an answer), no proxies, no compression, no cookies, no HTTP/2.

The caller bounds the whole call with a timeout; the connect is bounded on its own. A
connection goes back to its pool only when its answer was read to the end and neither side
asked to close it; one the server closed while idle is dropped before use.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

MAX_LINE = 64 * 1024  # a status or header line longer than this is a protocol error
MAX_HEADERS = 200
MAX_BODY_KEPT = 64 * 1024  # of an answer's body, the first bytes are kept (for the excerpt)


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as we read it, or stopped short."""


class ClosedUnanswered(ProtocolError):
    """The server closed the connection before a byte of the answer (on a kept-alive
    connection: it closed it while idle, and the request crossed the close)."""


class ConnectFailed(Exception):
    """No connection could be made (refused, unreachable, TLS handshake failed)."""


@dataclass(frozen=True)
class Answer:
    """What the server answered: the status, the headers we read (lower-case names), the
    first ``MAX_BODY_KEPT`` bytes of the body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One TCP (or TLS) connection to a server, used for one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

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
        return not self._writer.is_closing() and not self._reader.at_eof()

    def close(self) -> None:
        """Close at once (nothing to flush: a request is written whole or the connection is dropped)."""
        self._writer.close()

    async def post(self, head: bytes, body: bytes) -> tuple[Answer, bool]:
        """Write the request (``head`` ends with the blank line), read the answer; also answer
        whether the connection may carry another request."""
        self._writer.write(head + body if len(body) < 16 * 1024 else head)
        if len(body) >= 16 * 1024:
            self._writer.write(body)
        await self._writer.drain()
        while True:
            version, status = await self._status_line()
            headers = await self._headers()
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            break
        keep = version == b"HTTP/1.1" and "close" not in _tokens(headers.get("connection", ""))
        if status in (204, 304) or 100 <= status < 200:
            return Answer(status, headers, b""), keep
        if "chunked" in _tokens(headers.get("transfer-encoding", "")):
            return Answer(status, headers, await self._chunked()), keep
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError as exc:
                raise ProtocolError(f"bad content-length {length!r}") from exc
            if size < 0:
                raise ProtocolError(f"bad content-length {length!r}")
            return Answer(status, headers, await self._exactly(size)), keep
        # Neither: the body runs to the end of the connection.
        return Answer(status, headers, await self._to_eof()), False

    async def _line(self) -> bytes:
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError("the server closed the connection without an answer") from exc
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError("a line of the answer is too long") from exc
        return line.rstrip(b"\r\n")

    async def _status_line(self) -> tuple[bytes, int]:
        try:
            first = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise ClosedUnanswered("the server closed the connection without an answer") from exc
            raise ProtocolError("the server closed the connection in the middle of the status line") from exc
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError("the status line is too long") from exc
        parts = first.rstrip(b"\r\n").split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {b' '.join(parts)[:80]!r}")
        return parts[0], int(parts[1])

    async def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = await self._line()
            if not line:
                return headers
            name, sep, value = line.partition(b":")
            if not sep:
                raise ProtocolError(f"not a header line: {line[:80]!r}")
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        raise ProtocolError("too many header lines")

    async def _exactly(self, size: int) -> bytes:
        kept = bytearray()
        left = size
        try:
            while left:
                chunk = await self._reader.read(min(left, 64 * 1024))
                if not chunk:
                    raise ProtocolError("the server closed the connection in the middle of the body")
                left -= len(chunk)
                if len(kept) < MAX_BODY_KEPT:
                    kept += chunk[: MAX_BODY_KEPT - len(kept)]
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError("the body stopped short") from exc
        return bytes(kept)

    async def _chunked(self) -> bytes:
        kept = bytearray()
        while True:
            size_text = (await self._line()).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from exc
            if size == 0:
                while await self._line():  # trailers, up to the blank line
                    pass
                return bytes(kept)
            chunk = await self._exactly(size)
            if len(kept) < MAX_BODY_KEPT:
                kept += chunk[: MAX_BODY_KEPT - len(kept)]
            if await self._line():
                raise ProtocolError("a chunk does not end with CRLF")

    async def _to_eof(self) -> bytes:
        kept = bytearray()
        while chunk := await self._reader.read(64 * 1024):
            if len(kept) < MAX_BODY_KEPT:
                kept += chunk[: MAX_BODY_KEPT - len(kept)]
        return bytes(kept)


def request_head(target: str, host: str, headers: dict[str, str], length: int) -> bytes:
    """The request line and headers of a POST of ``length`` bytes, up to the blank line.

    Header names and values are ours (the signing headers, ``Host``): a CR or LF in one would
    split the request, so it is refused rather than sent.
    """
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", "User-Agent: handoff-router", "Accept: */*"]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {length}")
    if any("\r" in line or "\n" in line for line in lines):
        raise ValueError("a header or the target holds a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",") if token.strip()}
