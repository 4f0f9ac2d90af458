"""Which callback URLs and addresses may be called (SSRF protection). Pure: no DNS here.

A URL is checked twice: when a config is applied (``url_problems``: http or https, a host,
no credentials, and no literal address or ``localhost`` of a refused class) and at
delivery time on every address its host resolves to (``refused_class``), so a name that
points inside the network is refused too, and the call goes to the address checked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba): refused even when
# private addresses are allowed, unless a network listing them is allowed explicitly.
METADATA = frozenset(
    ipaddress.ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


def refused_class(
    address: IPAddress, *, allow_private: bool = False, allowed: Iterable[Network] = ()
) -> str | None:
    """The class that makes ``address`` off limits (``loopback``, ``private``, ...), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    if address in METADATA:
        return "cloud_metadata"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    kind = _private_kind(address)
    if kind is not None:
        return None if allow_private else kind
    if not address.is_global:
        return "reserved"
    return None


def _private_kind(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_reserved:
        return None  # reserved ranges are never "private", allowed or not
    if address in SHARED or address.is_private:
        return "private"
    return None


def url_problems(url: str, *, allow_private: bool = False, allowed: Iterable[Network] = ()) -> list[str]:
    """What is wrong with ``url`` as a callback URL, in words; empty when nothing is."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [f"{url!r} is not a valid URL ({exc})"]
    problems: list[str] = []
    if parts.scheme not in {"http", "https"}:
        problems.append(f"scheme {parts.scheme or '(none)'!r} is not allowed: use http or https")
    if parts.username is not None or parts.password is not None:
        problems.append("credentials in the URL are not allowed (the call is signed instead)")
    host = parts.hostname
    if not host:
        problems.append("the URL has no host")
        return problems
    if port == 0:
        problems.append("port 0 cannot be called")
    refused = _literal_refusal(parts, allow_private=allow_private, allowed=allowed)
    if refused is not None:
        problems.append(
            f"host {host!r} is a {refused.replace('_', '-')} address, refused for callbacks "
            "(allowed only with HANDOFF_CALLBACK_ALLOW_PRIVATE or HANDOFF_CALLBACK_ALLOWED_NETWORKS)"
        )
    return problems


def _literal_refusal(parts: SplitResult, *, allow_private: bool, allowed: Iterable[Network]) -> str | None:
    host = (parts.hostname or "").rstrip(".").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):  # a loopback address by another name
        return refused_class(LOOPBACK, allow_private=allow_private, allowed=allowed)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: checked on every address it resolves to, at delivery time
    return refused_class(address, allow_private=allow_private, allowed=allowed)


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``10.1.0.0/16``-style networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts if text.strip())
