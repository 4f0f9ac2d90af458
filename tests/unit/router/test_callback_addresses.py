"""Callback URLs and addresses that may not be called (SSRF), at config and delivery time."""

from __future__ import annotations

import ipaddress

import pytest
from handoff_router.callbacks.addresses import parse_networks, refused_class, url_problems
from hypothesis import given
from hypothesis import strategies as st


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
        ("::ffff:127.0.0.1", "loopback"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_addresses_inside_the_network_are_refused(address: str, kind: str) -> None:
    assert refused_class(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_class(ipaddress.ip_address(address)) is None


def test_allowing_private_allows_loopback_but_never_cloud_metadata() -> None:
    assert refused_class(ipaddress.ip_address("127.0.0.1"), allow_private=True) is None
    assert refused_class(ipaddress.ip_address("10.0.0.1"), allow_private=True) is None
    assert refused_class(ipaddress.ip_address("169.254.169.254"), allow_private=True) == "cloud_metadata"


def test_an_allowed_network_lets_exactly_that_network_through() -> None:
    allowed = parse_networks(["10.20.0.0/16"])
    assert refused_class(ipaddress.ip_address("10.20.3.4"), allowed=allowed) is None
    assert refused_class(ipaddress.ip_address("10.21.3.4"), allowed=allowed) == "private"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://tools.example.com/hook", "scheme 'ftp'"),
        ("https://user:pw@tools.example.com/hook", "credentials"),
        ("https://token@tools.example.com/hook", "credentials"),
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://10.0.0.5/hook", "private"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "cloud-metadata"),
        ("https:///hook", "no host"),
        ("http://tools.example.com:99999/", "not a valid URL"),
    ],
)
def test_config_time_problems_are_named(url: str, complaint: str) -> None:
    assert any(complaint in problem for problem in url_problems(url))


def test_a_public_https_url_has_no_problem() -> None:
    assert url_problems("https://sdr-tools.example.com/hooks/ana") == []


def test_loopback_urls_pass_where_private_addresses_are_allowed() -> None:
    assert url_problems("http://127.0.0.1:9000/hook", allow_private=True) == []
    assert url_problems("http://localhost:9000/hook", allow_private=True) == []


def test_an_allow_list_of_loopback_networks_passes_loopback_and_localhost_only() -> None:
    loopback = parse_networks(["127.0.0.0/8", "::1/128"])  # what the stack of `make up` allows
    for url in ("http://127.0.0.1:9000/hook", "http://[::1]:9000/hook", "http://localhost:9000/hook"):
        assert url_problems(url, allowed=loopback) == [], url
    for url in ("http://10.0.0.5/hook", "http://192.168.1.1/hook", "http://169.254.169.254/latest"):
        assert len(url_problems(url, allowed=loopback)) == 1, url


@given(st.ip_addresses(v=4, network="10.0.0.0/8") | st.ip_addresses(v=4, network="192.168.0.0/16"))
def test_any_private_v4_address_is_refused_and_its_v6_mapping_too(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert refused_class(address) == refused_class(mapped) == "private"
    assert url_problems(f"http://{address}/h") != []


@given(st.ip_addresses(v=4))
def test_allow_private_never_opens_the_metadata_address(address: ipaddress.IPv4Address) -> None:
    if refused_class(address, allow_private=True) is None:
        assert str(address) != "169.254.169.254"
