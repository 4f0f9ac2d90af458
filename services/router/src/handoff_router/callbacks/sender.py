"""One HTTP try of a callback: resolve, refuse addresses inside the network, POST to the address checked.

httpx with connect and total timeouts, a pool of keep-alive HTTP/1.1 connections, and no
redirects (a 3xx is a failure like any other non-2xx). The host is resolved here and each
of its addresses checked; the request then goes to the checked address (``Host`` and TLS
SNI keep the name), so a DNS answer cannot change between check and call.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from handoff_router.callbacks.addresses import Network, refused_class, url_problems
from handoff_router.callbacks.retries import Attempt

EXCERPT_CHARS = 500
DNS_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class Sent:
    """What a try got, how long it took, and the first characters of the answer."""

    attempt: Attempt
    latency_ms: float
    excerpt: str | None


class AddressRefused(Exception):
    """The URL, or an address its host resolves to, may not be called."""


class Sender:
    """POSTs signed callbacks; one per process, sharing its connection pool."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        total_timeout: float,
        max_connections: int,
        allow_private: bool,
        allowed: Iterable[Network] = (),
    ) -> None:
        self._total = total_timeout
        self._allow_private = allow_private
        self._allowed = tuple(allowed)
        self._dns: dict[tuple[str, int], tuple[float, str]] = {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=60,
            ),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the address checked is the one called
        )

    async def close(self) -> None:
        """Close the pool."""
        await self._client.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Sent:
        """One try: never raises for the endpoint's faults, it reports them."""
        started = time.perf_counter()
        try:
            target, extra = await self._pinned(url)
            async with asyncio.timeout(self._total):
                response = await self._client.post(
                    target, content=body, headers={**headers, **extra}, extensions=self._sni(url)
                )
            attempt = Attempt(response.status_code, retry_after=response.headers.get("retry-after"))
            excerpt: str | None = response.text[:EXCERPT_CHARS]
        except AddressRefused as exc:
            attempt, excerpt = Attempt(None, error="address_refused"), str(exc)
        except socket.gaierror as exc:
            attempt, excerpt = Attempt(None, error="dns_error"), str(exc)
        except (TimeoutError, httpx.TimeoutException):
            attempt, excerpt = Attempt(None, error="timeout"), None
        except httpx.ConnectError as exc:
            attempt, excerpt = Attempt(None, error="connect_error"), str(exc)[:EXCERPT_CHARS]
        except httpx.HTTPError as exc:
            attempt, excerpt = Attempt(None, error=type(exc).__name__.lower()), str(exc)[:EXCERPT_CHARS]
        return Sent(attempt, (time.perf_counter() - started) * 1000, excerpt)

    async def _pinned(self, url: str) -> tuple[httpx.URL, dict[str, str]]:
        problems = url_problems(url, allow_private=self._allow_private, allowed=self._allowed)
        if problems:
            raise AddressRefused("; ".join(problems))
        parsed = httpx.URL(url)
        host = parsed.host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        address = await self._resolve(host, port)
        if address == host:
            return parsed, {}
        return parsed.copy_with(host=address), {"host": parsed.netloc.decode("ascii")}

    async def _resolve(self, host: str, port: int) -> str:
        """The first address of ``host``, after checking every one it resolves to."""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return host
        cached = self._dns.get((host, port))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for text in addresses:
            refused = refused_class(
                ipaddress.ip_address(text), allow_private=self._allow_private, allowed=self._allowed
            )
            if refused is not None:
                raise AddressRefused(f"{host} resolves to {text}, a {refused.replace('_', '-')} address")
        if not addresses:
            raise socket.gaierror(f"{host} has no address")
        self._dns[(host, port)] = (time.monotonic() + DNS_TTL_SECONDS, addresses[0])
        return addresses[0]

    @staticmethod
    def _sni(url: str) -> dict[str, str]:
        parsed = httpx.URL(url)
        return {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
