"""One HTTP try of a callback: resolve, refuse addresses inside the network, POST to the address checked.

Connect and total timeouts, keep-alive HTTP/1.1 connections, and no redirects (a 3xx is a
failure like any other non-2xx). Each callback URL has a connection pool of its own, as large
as the per-endpoint bound: a slow endpoint can only fill its own pool. A pool unused for
``IDLE_POOL_SECONDS`` is closed. The POST goes through the small client of ``http1`` (a
fraction of httpx's CPU per request); with tracing on, through httpx, whose instrumentation
makes the client span and puts ``traceparent`` on the request. The URL is pinned by
``handoff_shared.addresses`` (the one address rule of every outbound call): its host resolved
within the connect timeout and each address checked; the request then goes to the checked
address (``Host`` and TLS SNI keep the name), so a DNS answer cannot change between check and call.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

import h11
import httpx
from handoff_shared import tracing
from handoff_shared.addresses import AddressPolicy, AddressRefused, pin

from handoff_router.callbacks import http1
from handoff_router.callbacks.retries import Attempt

EXCERPT_CHARS = 500
DNS_TTL_SECONDS = 30.0
IDLE_POOL_SECONDS = 60.0
_UNSAFE = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F], "\ufffd")


def safe_text(text: str | None, limit: int = EXCERPT_CHARS) -> str | None:
    """An answer's excerpt as text any column and JSON document takes: its first ``limit``
    characters, control characters (NUL included) but tab and line breaks replaced by U+FFFD,
    lone surrogates too."""
    if text is None:
        return None
    cut = text[:limit].translate(_UNSAFE)
    return cut.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class Sent:
    """What a try got, how long it took, and the first characters of the answer."""

    attempt: Attempt
    latency_ms: float
    excerpt: str | None


@dataclass(frozen=True)
class _Target:
    """Where a callback URL's tries go until ``until`` (monotonic): the checked address, the
    ``Host`` header that keeps the name, and the TLS server name."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]
    until: float
    host: str  # the Host header: the name (and port) of the URL
    path: str  # the request target: path and query


@dataclass
class _Pool:
    """One callback URL's keep-alive connections; ``busy`` tries under way, ``used`` last use.

    ``client`` (httpx) when tracing is on; otherwise ``idle`` connections of ``http1``, at most
    ``slots`` of them in use at once."""

    client: httpx.AsyncClient | None
    slots: asyncio.Semaphore
    idle: list[tuple[float, http1.Connection]] = field(default_factory=list)
    busy: int = 0
    used: float = 0.0

    def take(self) -> http1.Connection | None:
        """The most recently used idle connection still open (others that closed are dropped)."""
        now = time.monotonic()
        while self.idle:
            since, connection = self.idle.pop()
            if connection.reusable and now - since < IDLE_POOL_SECONDS:
                return connection
            connection.close()
        return None

    async def close(self) -> None:
        for _, connection in self.idle:
            connection.close()
        self.idle.clear()
        if self.client is not None:
            await self.client.aclose()


class Sender:
    """POSTs signed callbacks; one per process, sharing its connection pool."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        total_timeout: float,
        per_url_connections: int,
        addresses: AddressPolicy,
    ) -> None:
        self._total = total_timeout
        self._addresses = addresses
        self._timeout = httpx.Timeout(total_timeout, connect=connect_timeout)
        self._connect = connect_timeout
        self._per_pool = per_url_connections
        self._pools: dict[str, _Pool] = {}
        self._targets: dict[str, _Target] = {}
        self._swept = time.monotonic()
        # One TLS context for every pool: building one loads the CA store (tens of ms each).
        self._ssl = httpx.create_ssl_context(trust_env=False)

    def _pool(self, url: str) -> _Pool:
        pool = self._pools.get(url)
        if pool is None:
            client = None
            if tracing.ENABLED:
                client = httpx.AsyncClient(
                    timeout=self._timeout,
                    limits=httpx.Limits(
                        max_connections=self._per_pool,
                        max_keepalive_connections=self._per_pool,
                        keepalive_expiry=IDLE_POOL_SECONDS,
                    ),
                    follow_redirects=False,
                    verify=self._ssl,
                    trust_env=False,  # no proxy from the environment: the address checked is the one called
                )
            pool = self._pools[url] = _Pool(client, asyncio.Semaphore(self._per_pool))
        pool.used = time.monotonic()
        return pool

    async def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept < IDLE_POOL_SECONDS / 2:
            return
        self._swept = now
        idle = [
            url for url, pool in self._pools.items() if not pool.busy and now - pool.used > IDLE_POOL_SECONDS
        ]
        for url in idle:
            await self._pools.pop(url).close()
        self._targets = {url: target for url, target in self._targets.items() if target.until > now}

    async def close(self) -> None:
        """Close every pool."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Sent:
        """One try: never raises for the endpoint's faults, it reports them."""
        started = time.perf_counter()
        await self._sweep()
        pool = self._pool(url)
        pool.busy += 1
        excerpt: str | None
        try:
            target = await self._target(url)
            if target.headers:
                headers = {**headers, **target.headers}
            async with asyncio.timeout(self._total):
                if pool.client is not None:
                    status, retry_after, excerpt = await self._post_traced(pool.client, target, headers, body)
                else:
                    answer = await self._post(pool, target, headers, body)
                    status, retry_after = answer.status, answer.headers.get("retry-after")
                    excerpt = answer.body.decode("utf-8", "replace")
            attempt = Attempt(status, retry_after=retry_after)
        except AddressRefused as exc:
            attempt, excerpt = Attempt(None, error="address_refused"), str(exc)
        except socket.gaierror as exc:
            attempt, excerpt = Attempt(None, error="dns_error"), str(exc)
        except (TimeoutError, httpx.TimeoutException):
            attempt, excerpt = Attempt(None, error="timeout"), None
        except (httpx.ConnectError, http1.ConnectFailed) as exc:
            attempt, excerpt = Attempt(None, error="connect_error"), str(exc)[:EXCERPT_CHARS]
        except httpx.HTTPError as exc:
            attempt, excerpt = Attempt(None, error=type(exc).__name__.lower()), str(exc)[:EXCERPT_CHARS]
        except http1.ProtocolError as exc:  # httpx's name for the same
            attempt, excerpt = Attempt(None, error="remoteprotocolerror"), str(exc)[:EXCERPT_CHARS]
        except OSError as exc:  # the connection broke while writing or reading (httpx: ReadError)
            attempt, excerpt = Attempt(None, error="readerror"), str(exc)[:EXCERPT_CHARS]
        finally:
            pool.busy -= 1
        return Sent(attempt, (time.perf_counter() - started) * 1000, safe_text(excerpt))

    @staticmethod
    async def _post_traced(
        client: httpx.AsyncClient, target: _Target, headers: dict[str, str], body: bytes
    ) -> tuple[int, str | None, str]:
        """One POST through httpx (tracing on): the answer's body is read up to
        ``http1.MAX_BODY_KEPT`` bytes, never whole (an endless answer is cut, its connection closed)."""
        request = client.build_request(
            "POST", target.url, content=body, headers=headers, extensions=target.extensions
        )
        response = await client.send(request, stream=True)
        kept = bytearray()
        try:
            async for chunk in response.aiter_raw():
                kept += chunk[: http1.MAX_BODY_KEPT - len(kept)]
                if len(kept) >= http1.MAX_BODY_KEPT:
                    break
        finally:
            await response.aclose()
        return response.status_code, response.headers.get("retry-after"), kept.decode("utf-8", "replace")

    async def _post(self, pool: _Pool, target: _Target, headers: dict[str, str], body: bytes) -> http1.Answer:
        """One POST on a kept-alive connection of the URL's pool (a new one when none is idle)."""
        head = http1.request_head(target.path, target.host, headers, len(body))
        async with pool.slots:
            connection = pool.take()
            if connection is not None:
                try:
                    return await self._exchange(pool, connection, head, body)
                except (http1.ClosedUnanswered, ConnectionResetError, BrokenPipeError):
                    # The server closed this idle connection as the request went out: nothing
                    # was answered, so the try goes again once, on a new connection (with the
                    # same webhook-id: a receiver that did get it sees a repeat, as after a retry).
                    pass
            url = target.url
            https = url.scheme == "https"
            connection = await http1.Connection.open(
                url.host,
                url.port or (443 if https else 80),
                tls=self._ssl if https else None,
                server_hostname=target.extensions.get("sni_hostname", url.host),
                timeout=self._connect,
            )
            return await self._exchange(pool, connection, head, body)

    @staticmethod
    async def _exchange(
        pool: _Pool, connection: http1.Connection, head: h11.Request, body: bytes
    ) -> http1.Answer:
        try:
            answer, keep = await connection.post(head, body)
        except BaseException:
            connection.close()
            raise
        if keep:
            pool.idle.append((time.monotonic(), connection))
        else:
            connection.close()
        return answer

    async def _target(self, url: str) -> _Target:
        """The URL checked and pinned to a checked address, kept as long as its DNS answer is."""
        cached = self._targets.get(url)
        if cached is not None and cached.until > time.monotonic():
            return cached
        pinned = await pin(url, self._addresses, timeout=self._connect)
        parsed = httpx.URL(url)
        until = time.monotonic() + DNS_TTL_SECONDS
        extensions = self._sni(url)
        path = parsed.raw_path.decode("ascii")
        target = _Target(
            parsed.copy_with(host=pinned.address, port=pinned.port),
            {"host": pinned.netloc},
            extensions,
            until,
            pinned.netloc,
            path,
        )
        self._targets[url] = target
        return target

    @staticmethod
    def _sni(url: str) -> dict[str, str]:
        parsed = httpx.URL(url)
        return {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
