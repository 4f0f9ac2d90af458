"""The one address rule of every outbound URL (SSRF): every spelling of an address inside the
network is refused, every public address and name is allowed."""

from __future__ import annotations

import ipaddress

import pytest
from handoff_shared.addresses import (
    AddressPolicy,
    AddressRefused,
    IPAddress,
    host_address,
    parse_networks,
    pin,
    refused_class,
    url_problems,
)
from hypothesis import given
from hypothesis import strategies as st

PRIVATE = AddressPolicy(allow_private=True)
LOOPBACK_ONLY = AddressPolicy.of(False, "127.0.0.0/8,::1/128")  # what the stack of `make up` allows


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("169.254.10.10", "link_local"),
        ("fe80::1", "link_local"),
        ("169.254.169.254", "cloud_metadata"),
        ("fd00:ec2::254", "cloud_metadata"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("0.1.2.3", "reserved"),
        ("198.18.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("2001:db8::1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::127.0.0.1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "cloud_metadata"),
        ("2002:a00:1::", "private"),
        ("2002:7f00:1::1", "loopback"),
        ("64:ff9b:1::a00:1", "private"),
    ],
)
def test_addresses_inside_the_network_are_refused(address: str, kind: str) -> None:
    assert refused_class(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_class(ipaddress.ip_address(address)) is None


def test_allowing_private_allows_loopback_but_never_cloud_metadata_or_unspecified() -> None:
    assert refused_class(ipaddress.ip_address("127.0.0.1"), PRIVATE) is None
    assert refused_class(ipaddress.ip_address("10.0.0.1"), PRIVATE) is None
    assert refused_class(ipaddress.ip_address("169.254.169.254"), PRIVATE) == "cloud_metadata"
    assert refused_class(ipaddress.ip_address("0.0.0.0"), PRIVATE) == "unspecified"


def test_an_allowed_network_lets_exactly_that_network_through() -> None:
    allowed = AddressPolicy(allowed=parse_networks(["10.20.0.0/16"]))
    assert refused_class(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert refused_class(ipaddress.ip_address("::ffff:10.20.3.4"), allowed) is None
    assert refused_class(ipaddress.ip_address("10.21.3.4"), allowed) == "private"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://tools.example.com/hook", "scheme 'ftp'"),
        ("https://user:pw@tools.example.com/hook", "credentials"),
        ("https://token@tools.example.com/hook", "credentials"),
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://LocalHost./hook", "loopback"),
        ("http://10.0.0.5/hook", "private"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "cloud-metadata"),
        ("http://169\u3002254\u3002169\u3002254/latest/meta-data/", "cloud-metadata"),
        ("http://0\uff610\uff610\uff610:8081/", "unspecified"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://127.0.0.1./", "loopback"),
        ("http://[64:ff9b::7f00:1]/", "loopback"),
        ("http://1.2.3.4.5/", "neither an address nor a DNS name"),
        ("http://127.0.0.1%2e/", "neither an address nor a DNS name"),
        ("http://tools.example.0x7f/", "neither an address nor a DNS name"),
        ("https:///hook", "no host"),
        ("http://tools.example.com:99999/", "port 99999"),
        ("http://tools.example.com:0/", "port 0"),
        ("http://[::1/", "not a valid URL"),
    ],
)
def test_config_time_problems_are_named(url: str, complaint: str) -> None:
    problems = url_problems(url)
    assert len(problems) == 1
    assert complaint in problems[0]


def test_a_public_https_url_has_no_problem() -> None:
    assert url_problems("https://sdr-tools.example.com/hooks/ana") == []
    assert url_problems("https://b\u00fccher.example/hooks/ana") == []  # IDNA: xn--bcher-kva.example


def test_loopback_urls_pass_where_private_addresses_are_allowed() -> None:
    assert url_problems("http://127.0.0.1:9000/hook", PRIVATE) == []
    assert url_problems("http://localhost:9000/hook", PRIVATE) == []


def test_an_allow_list_of_loopback_networks_passes_loopback_and_localhost_only() -> None:
    for url in ("http://127.0.0.1:9000/hook", "http://[::1]:9000/hook", "http://localhost:9000/hook"):
        assert url_problems(url, LOOPBACK_ONLY) == [], url
    for url in ("http://10.0.0.5/hook", "http://192.168.1.1/hook", "http://169.254.169.254/latest"):
        assert len(url_problems(url, LOOPBACK_ONLY)) == 1, url


def test_other_schemes_are_checked_when_asked_for() -> None:
    assert url_problems("smtp://127.0.0.1:25", schemes=("smtp",)) != []
    assert url_problems("smtp://mail.example.com:25", schemes=("smtp",)) == []


async def test_pin_answers_the_checked_address_and_keeps_the_name() -> None:
    pinned = await pin("http://0x7f.1:8081/hook", LOOPBACK_ONLY, timeout=1)
    assert (pinned.address, pinned.port, pinned.host, pinned.netloc) == (
        "127.0.0.1",
        8081,
        "0x7f.1",
        "0x7f.1:8081",
    )
    with pytest.raises(AddressRefused):
        await pin("http://0\uff610\uff610\uff610:8081/", PRIVATE, timeout=1)


# Spellings of one IPv4 address: every form the system resolver or the HTTP client reads as it.
FORBIDDEN_V4 = st.sampled_from(
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "198.18.0.0/15",
    ]
).flatmap(lambda network: st.ip_addresses(v=4, network=network))
FORBIDDEN_V6 = st.sampled_from(["::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]).flatmap(
    lambda network: st.ip_addresses(v=6, network=network)
)
PUBLIC_V4 = st.ip_addresses(v=4).filter(
    lambda address: address.is_global and not address.is_multicast and str(address) != "100.100.100.200"
)
OTHER_DOTS = ("\u3002", "\uff0e", "\uff61")


def _number(value: int, base: str) -> str:
    return {
        "dec": str(value),
        "hex": hex(value),
        "HEX": hex(value).upper().replace("X", "x"),
        "oct": f"0{value:o}",
    }[base]


@st.composite
def ipv4_spellings(draw: st.DrawFn, address: IPAddress, *, v6: bool = True) -> str:
    """One way of writing the IPv4 ``address`` in a URL's host."""
    assert isinstance(address, ipaddress.IPv4Address)
    value = int(address)
    octets = list(address.packed)
    parts = draw(st.integers(1, 4))
    head = octets[: parts - 1]
    tail = value & ((1 << (8 * (5 - parts))) - 1)
    bases = st.sampled_from(["dec", "hex", "HEX", "oct"])
    spelled = [_number(octet, draw(bases)) for octet in head] + [_number(tail, draw(bases))]
    dot = draw(st.sampled_from([".", *OTHER_DOTS]))
    host = dot.join(spelled) + draw(st.sampled_from(["", "."]))
    form = draw(st.sampled_from(["", "mapped", "compatible", "nat64", "6to4"])) if v6 else ""
    if form == "mapped":
        return f"[::ffff:{address}]"
    if form == "compatible" and value > 1:
        return f"[::{address}]"
    if form == "nat64":
        return f"[64:ff9b::{address}]"
    if form == "6to4":
        suffix = draw(st.integers(0, (1 << 80) - 1))
        return f"[{ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | suffix)}]"
    return host


@given(FORBIDDEN_V4.flatmap(lambda address: st.tuples(st.just(address), ipv4_spellings(address))))
def test_every_spelling_of_a_forbidden_ipv4_address_is_refused(
    case: tuple[ipaddress.IPv4Address, str],
) -> None:
    address, host = case
    assert url_problems(f"http://{host}:8080/hook") != [], host
    assert url_problems(f"https://{host}/hook", LOOPBACK_ONLY) != [] or address in ipaddress.ip_network(
        "127.0.0.0/8"
    )


@given(FORBIDDEN_V6)
def test_every_forbidden_ipv6_address_is_refused(address: ipaddress.IPv6Address) -> None:
    assert url_problems(f"http://[{address}]/hook") != []
    assert url_problems(f"http://[{str(address).upper()}]:81/hook") != []


@given(PUBLIC_V4.flatmap(lambda address: ipv4_spellings(address)))
def test_every_spelling_of_a_public_address_is_allowed(host: str) -> None:
    problems = url_problems(f"http://{host}/hook")
    # httpx refuses four dotted decimal parts with a leading zero: no client call, no callback.
    assert problems == [] or "is not a valid URL (Invalid IPv4 address" in problems[0], problems


@given(
    st.ip_addresses(v=4).flatmap(
        lambda address: st.tuples(st.just(address), ipv4_spellings(address, v6=False))
    )
)
def test_a_spelling_is_read_as_the_one_address_it_stands_for(case: tuple[ipaddress.IPv4Address, str]) -> None:
    address, host = case
    assert host_address(host.translate({ord(dot): "." for dot in OTHER_DOTS})) == address


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z0-9][a-z0-9-]{0,12}){0,2}", fullmatch=True),
    st.sampled_from(["com", "io", "org", "example", "de"]),
)
def test_every_public_name_is_allowed(name: str, tld: str) -> None:
    assert url_problems(f"https://{name}.{tld}/hooks/x") == []


@given(st.ip_addresses(v=4))
def test_allow_private_never_opens_the_metadata_address(address: ipaddress.IPv4Address) -> None:
    for spelled in (
        address,
        ipaddress.IPv6Address(f"::ffff:{address}"),
        ipaddress.IPv6Address(f"64:ff9b::{address}"),
    ):
        if refused_class(spelled, PRIVATE) is None:
            assert address != ipaddress.IPv4Address("169.254.169.254")
