"""Netguard: address classification and resolution only; no traffic leaves loopback."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from receiver.errors import DeliveryError
from receiver.sinks import netguard


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_refused_addresses(address: str, why: str) -> None:
    reason = netguard.refusal(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert netguard.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/",
        "http://[fd00:ec2::254]/",
        "http://localhost:1/",  # a name: the check is on what it resolves to
    ],
)
async def test_guard_url_refuses_private_destinations(url: str) -> None:
    with pytest.raises(DeliveryError) as info:
        await netguard.guard_url(httpx.URL(url))
    assert not info.value.retryable
    assert "refused destination" in info.value.reason
    assert "allow_private" in info.value.reason


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://10.0.0.5/x", "http://localhost:1/"])
async def test_allow_private_skips_the_check(url: str) -> None:
    checked = await netguard.guard_url(httpx.URL(url), allow_private=True)
    assert checked.ip is None


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd"])
async def test_guard_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(DeliveryError, match="scheme"):
        await netguard.guard_url(httpx.URL(url))


@pytest.mark.anyio
async def test_unresolvable_name_is_retryable() -> None:
    with pytest.raises(DeliveryError) as info:
        await netguard.check_host("no-such-host.invalid", 443)
    assert info.value.retryable


@pytest.mark.parametrize(
    ("url", "ip", "pinned", "host", "sni"),
    [
        (
            "https://api.example.com/v1?a=1",
            "93.184.216.34",
            "https://93.184.216.34/v1?a=1",
            "api.example.com",
            True,
        ),
        (
            "http://api.example.com:8080/x",
            "93.184.216.34",
            "http://93.184.216.34:8080/x",
            "api.example.com:8080",
            False,
        ),
        ("https://api.example.com/", "2606:4700::1", "https://[2606:4700::1]/", "api.example.com", True),
    ],
)
def test_pin_sends_to_the_checked_ip_but_keeps_host_and_sni(
    url: str, ip: str, pinned: str, host: str, sni: bool
) -> None:
    checked = netguard.Checked("api.example.com", ipaddress.ip_address(ip))
    new_url, headers, server_hostname = netguard.pin(httpx.URL(url), checked)
    assert str(new_url) == pinned
    assert headers == {"Host": host}
    assert server_hostname == ("api.example.com" if sni else None)


def test_pin_leaves_unpinned_urls_alone() -> None:
    url = httpx.URL("http://127.0.0.1:5/x")
    assert netguard.pin(url, netguard.Checked("127.0.0.1", None)) == (url, {}, None)
