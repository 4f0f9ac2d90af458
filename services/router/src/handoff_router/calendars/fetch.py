"""Reads a calendar feed over HTTP: the address guard first, a size cap, timeouts, no redirects.

The host is resolved and every address it answers checked with the same guard as callback
URLs (handed in by the composition root); a feed larger than the cap is refused as soon as
the cap is passed, without reading the rest.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

AddressGuard = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], str | None]
"""The class that makes an address off limits (``private``, ``loopback``...), or None."""


class FetchRefused(Exception):
    """The feed was not read: the reason is the message (shown in /v1/reps/load)."""


async def resolve_checked(host: str, port: int, guard: AddressGuard) -> None:
    """FetchRefused when the host resolves to nothing, or to any address the guard refuses."""
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchRefused(f"cannot resolve {host}: {error}") from None
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        refused = guard(address)
        if refused is not None:
            raise FetchRefused(f"{host} resolves to a {refused} address ({address}): refused")


async def fetch_feed(client: httpx.AsyncClient, url: str, guard: AddressGuard, max_bytes: int) -> bytes:
    """The feed's bytes (FetchRefused: an address refused, an HTTP error, too large, no answer)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("not an http(s) URL")
    await resolve_checked(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), guard)
    try:
        async with client.stream("GET", url, headers={"Accept": "text/calendar"}) as answer:
            if answer.status_code != 200:
                raise FetchRefused(f"HTTP {answer.status_code}")
            declared = answer.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise FetchRefused(f"too large: {declared} bytes (the limit is {max_bytes})")
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchRefused(f"too large: over {max_bytes} bytes")
            return bytes(body)
    except httpx.HTTPError as error:
        raise FetchRefused(f"{type(error).__name__}: {str(error)[:200]}") from None
