"""The one address rule for every outbound URL (SSRF protection): callbacks, calendar feeds,
the Slack API, the SMTP host.

A URL is read the way the HTTP client reads it (``httpx.URL``: IDNA, the other dots
U+3002, U+FF0E and U+FF61, lower case), then its host is taken as the system resolver would take it: a
trailing dot dropped, IPv4 written in decimal, octal or hex, in one to four parts
(``2130706433``, ``0x7f.1``, ``0177.0.0.1``), and IPv6 addresses that carry an IPv4 one
(IPv4-mapped, IPv4-compatible, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4
``2002::/16``) judged by that IPv4 address. A host that is neither a valid address nor a
plain DNS name (letters, digits, ``-``, ``_``, dots; a last label that is not all digits)
is refused: nothing else reaches the resolver.

Refused: loopback, private (RFC 1918, ULA, carrier-grade NAT), link-local, multicast,
unspecified, reserved and every other non-global range, unless the policy allows them
(``allow_private``, or a network listed in ``allowed``). Cloud metadata addresses stay
refused with ``allow_private``; only a listed network lets them through.

The API, for every feature that calls out:

- ``AddressPolicy.of(allow_private, networks)``: the policy, from a service's settings
  (``HANDOFF_CALLBACK_ALLOW_PRIVATE``, ``HANDOFF_CALLBACK_ALLOWED_NETWORKS``).
- ``url_problems(url, policy)``: when a config is applied; pure (no DNS), a list of
  problems in words, empty when the URL may be kept. Names are judged at ``pin``.
- ``await pin(url, policy, timeout=...)``: right before connecting. Resolves the host within
  ``timeout``, checks every address it resolves to, and answers a ``Pinned``: connect to
  ``pinned.address``, send ``pinned.host`` as the ``Host`` header and TLS server name. Raises
  ``AddressRefused`` (the URL or an address may not be called) or ``OSError`` (no answer).
- ``refused_class(address, policy)``: the class that makes one address off limits, or None.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba): refused even when
# private addresses are allowed, unless a network listing them is allowed explicitly.
METADATA = frozenset(
    ipaddress.ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(text) for text in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
SCHEMES = ("http", "https")

_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")


class AddressRefused(Exception):
    """The URL, or an address its host resolves to, may not be called."""


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses inside the network may be called anyway."""

    allow_private: bool = False
    allowed: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_private: bool, networks: str | Iterable[str] = ()) -> AddressPolicy:
        """From settings: ``networks`` comma-separated (``10.1.0.0/16,::1``) or a list."""
        texts = networks.split(",") if isinstance(networks, str) else networks
        return cls(allow_private, parse_networks(texts))


@dataclass(frozen=True)
class Destination:
    """A URL's scheme, host (ASCII, lower case, no trailing dot), port, and the address the
    host is written as, if it is one."""

    scheme: str
    host: str
    port: int
    literal: IPAddress | None


@dataclass(frozen=True)
class Pinned:
    """Where to connect (``address``, ``port``) and the name to present (``host``: the Host
    header, with ``netloc`` its form with the port; the TLS server name)."""

    address: str
    port: int
    host: str
    netloc: str


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``10.1.0.0/16``-style networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts if text.strip())


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, compatible, NAT64, 6to4)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    value = int(address)
    if address in NAT64 or (address in IPV4_COMPATIBLE and value > 1):
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if address in NAT64_LOCAL:
        # RFC 6052 places the IPv4 address after a /48, /56, /64 or /96 prefix (skipping
        # bits 64-71): which one the translator uses is not known here, so every reading counts.
        bits = f"{value:0128b}"
        readings = [bits[96:128], bits[72:104], bits[56:64] + bits[72:96], bits[48:64] + bits[72:88]]
        return [ipaddress.IPv4Address(int(reading, 2)) for reading in readings]
    return []


def refused_class(address: IPAddress, policy: AddressPolicy = AddressPolicy()) -> str | None:
    """The class that makes ``address`` off limits (``loopback``, ``private``, ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # without a scope id
        inner = embedded_ipv4(address)
        if inner:
            verdicts = [refused_class(item, policy) for item in inner]
            return next((verdict for verdict in verdicts if verdict is not None), None)
    if any(address in network for network in policy.allowed):
        return None
    if address in METADATA:
        return "cloud_metadata"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    kind = _private_kind(address)
    if kind is not None:
        return None if policy.allow_private else kind
    if not address.is_global or address.is_reserved:
        return "reserved"
    return None


def _private_kind(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_reserved:
        return None  # reserved ranges are never "private", allowed or not
    if address in SHARED or (address.is_private and not _is_special_purpose(address)):
        return "private"
    return None


def _is_special_purpose(address: IPAddress) -> bool:
    """Non-global ranges that are no private network (``0/8``, documentation, benchmarking...)."""
    return not any(address in network for network in PRIVATE_NETWORKS)


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """``text`` read as the system's ``inet_aton`` reads it (``127.1``, ``0x7f.0.0.1``,
    ``017700000001``), or None when it is no IPv4 address in any of those forms."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.fullmatch(part) for part in parts):
        return None
    numbers = [_ipv4_number(part) for part in parts]
    *head, last = numbers
    if any(number > 0xFF for number in head) or last >= 1 << (8 * (5 - len(parts))):
        return None
    value = last
    for index, number in enumerate(head):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if part.startswith("0"):
        return int(part, 8)
    return int(part)


def parse_url(url: str, *, schemes: Iterable[str] = SCHEMES) -> Destination:
    """The URL's destination as the HTTP client reads it; AddressRefused when it has none
    that can be called (a scheme not in ``schemes``, credentials, no host, no valid host)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise AddressRefused(f"{url!r} is not a valid URL ({exc})") from None
    if parsed.scheme not in tuple(schemes):
        allowed = " or ".join(schemes)
        raise AddressRefused(f"scheme {parsed.scheme or '(none)'!r} is not allowed: use {allowed}")
    if parsed.userinfo:
        raise AddressRefused("credentials in the URL are not allowed")
    host = parsed.raw_host.decode("ascii").rstrip(".")  # IDNA: the ASCII form
    if not host:
        raise AddressRefused("the URL has no host")
    port = _default_port(parsed.scheme) if parsed.port is None else parsed.port
    if not 0 < port < 65536:
        raise AddressRefused(f"port {port} cannot be called")
    return Destination(parsed.scheme, host, port, host_address(host))


def _default_port(scheme: str) -> int:
    return {"http": 80, "https": 443, "smtp": 25, "smtps": 465, "webcal": 80}.get(scheme, 0)


def host_address(host: str) -> IPAddress | None:
    """The address ``host`` (as ``httpx.URL`` gives it) is written as; None for a DNS name,
    AddressRefused when it is neither."""
    host = host.rstrip(".")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise AddressRefused(f"host {host!r} is not a valid IPv6 address") from None
    address = parse_ipv4(host)
    if address is not None:
        return address
    if not _NAME.fullmatch(host) or host.rsplit(".", 1)[-1].isdigit() or parse_ipv4(host.rsplit(".", 1)[-1]):
        raise AddressRefused(f"host {host!r} is neither an address nor a DNS name")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return LOOPBACK  # a loopback address by another name
    return None


def url_problems(
    url: str, policy: AddressPolicy = AddressPolicy(), *, schemes: Iterable[str] = SCHEMES
) -> list[str]:
    """What is wrong with ``url`` as an outbound URL, in words; empty when nothing is.
    Pure: a DNS name is judged when it is pinned."""
    try:
        destination = parse_url(url, schemes=schemes)
    except AddressRefused as exc:
        return [str(exc)]
    if destination.literal is not None:
        refused = refused_class(destination.literal, policy)
        if refused is not None:
            return [_refusal(destination.host, refused)]
    return []


def _refusal(host: str, refused: str) -> str:
    kind = refused.replace("_", "-")
    return (
        f"host {host!r} is {_article(kind)} {kind} address, refused for outbound calls "
        "(allowed only with HANDOFF_CALLBACK_ALLOW_PRIVATE or HANDOFF_CALLBACK_ALLOWED_NETWORKS)"
    )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


async def pin(url: str, policy: AddressPolicy, *, timeout: float, schemes: Iterable[str] = SCHEMES) -> Pinned:
    """The checked address to connect to for ``url``, resolved within ``timeout`` seconds."""
    destination = parse_url(url, schemes=schemes)
    netloc = destination.host if ":" not in destination.host else f"[{destination.host}]"
    if destination.port != _default_port(destination.scheme):
        netloc = f"{netloc}:{destination.port}"
    if destination.literal is not None:
        refused = refused_class(destination.literal, policy)
        if refused is not None:
            raise AddressRefused(_refusal(destination.host, refused))
        return Pinned(str(destination.literal), destination.port, destination.host, netloc)
    address = await resolve(destination.host, destination.port, policy, timeout=timeout)
    return Pinned(address, destination.port, destination.host, netloc)


async def resolve(host: str, port: int, policy: AddressPolicy, *, timeout: float) -> str:
    """The first address of the DNS name ``host``, after checking every one it resolves to;
    ``TimeoutError`` when the resolver has not answered within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for text in addresses:
        refused = refused_class(ipaddress.ip_address(text), policy)
        if refused is not None:
            kind = refused.replace("_", "-")
            raise AddressRefused(f"{host} resolves to {text}, {_article(kind)} {kind} address")
    if not addresses:
        raise socket.gaierror(f"{host} has no address")
    return addresses[0]
