"""Reads a calendar feed over HTTP: the outbound address rule first, a size cap, timeouts, no
redirects.

The URL goes through ``handoff_shared.addresses`` as callbacks do: its host is resolved, every
address it answers checked, and the request sent to the checked address (``Host`` and the
TLS server name keep the name), so a DNS answer cannot change between check and read. A feed
larger than the cap is refused as soon as the cap is passed, without reading the rest.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
from handoff_shared.addresses import AddressPolicy, AddressRefused, pin


class FetchRefused(Exception):
    """The feed was not read: the reason is the message (shown in /v1/reps/load)."""


async def fetch_feed(
    client: httpx.AsyncClient, url: str, policy: AddressPolicy, max_bytes: int, timeout: float
) -> bytes:
    """The feed's bytes (FetchRefused: an address refused, an HTTP error, too large, no answer)."""
    try:
        pinned = await pin(url, policy, timeout=timeout)
    except AddressRefused as error:
        raise FetchRefused(f"refused: {error}") from None
    except OSError as error:
        raise FetchRefused(f"cannot resolve the feed's host: {type(error).__name__}") from None
    parts = urlsplit(url)
    address = f"[{pinned.address}]" if ":" in pinned.address else pinned.address
    target = urlunsplit((parts.scheme, f"{address}:{pinned.port}", parts.path or "/", parts.query, ""))
    headers = {"Accept": "text/calendar", "Host": pinned.netloc}
    extensions = {"sni_hostname": pinned.host} if parts.scheme == "https" else {}
    try:
        request = client.build_request("GET", target, headers=headers, extensions=extensions)
        answer = await client.send(request, stream=True)
        try:
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
        finally:
            await answer.aclose()
    except httpx.HTTPError as error:
        raise FetchRefused(f"{type(error).__name__}: {str(error)[:200]}") from None
