"""Which addresses the egress guard refuses, and what an allowed entry lets through."""

from __future__ import annotations

import ipaddress

import pytest

from ingest.egress import EgressPolicy, netloc_key, refusal
from ingest.exceptions import EgressRefused


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.3.4", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.7", "non-public"),  # shared address space (carrier NAT)
        ("0.0.0.0", "reserved"),  # noqa: S104 (an address under test, not a bind)
        ("224.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_internal_addresses_are_refused(address: str, why: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize("address", ["203.113.131.1", "8.8.8.8", "2001:4860:4860::8888"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_an_allowed_entry_lets_through_only_its_own_host_and_port() -> None:
    policy = EgressPolicy.allowing(["http://127.0.0.1:8081/rss.xml"])
    loopback = [ipaddress.ip_address("127.0.0.1")]
    assert str(policy.check("127.0.0.1", 8081, loopback)) == "127.0.0.1"
    with pytest.raises(EgressRefused, match="loopback"):
        policy.check("127.0.0.1", 8082, loopback)  # another port on the same host
    with pytest.raises(EgressRefused, match="loopback"):
        policy.check("localhost", 8081, loopback)  # another name for it is not the entry


def test_one_internal_answer_among_public_ones_refuses_the_host() -> None:
    mixed = [ipaddress.ip_address("203.113.131.1"), ipaddress.ip_address("10.0.0.1")]
    with pytest.raises(EgressRefused, match="private"):
        EgressPolicy().check("rebind.example", 443, mixed)


def test_netloc_keys_fill_in_default_ports() -> None:
    assert netloc_key("Example.VN", None) == "example.vn:443"
    assert netloc_key("example.vn", None, "http") == "example.vn:80"
    assert netloc_key("[::1]", 8080) == "::1:8080"
