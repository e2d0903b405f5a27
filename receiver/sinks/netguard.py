"""Outbound address safety: refuse destinations that reach into our own network.

Sinks that call user-configured or template-rendered URLs must not become a proxy
into loopback, private networks or the cloud metadata service (SSRF). The check runs
on the *resolved* addresses of the host, never on the hostname, and every address the
name resolves to must pass.

Time-of-check/time-of-use: a hostile DNS server can answer differently when the HTTP
client resolves the name again. :func:`pin` closes that gap by sending the request to
the checked IP itself while keeping the ``Host`` header and the TLS server name (SNI,
certificate check) of the original host. It is not airtight when the shared client
goes through an HTTP proxy (the proxy connects to the IP we give it, which is still
the checked one, so the guarantee holds there too) or when ``allow_private`` is set
(then nothing is checked or pinned).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from receiver.errors import DeliveryError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata and host-agent endpoints (AWS, ECS, GCP, Azure, Alibaba, Oracle…).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.123",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, NAT64, 6to4, Teredo client)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why this address must not be called, or None if it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = refusal(inner)
            return f"{why} (embedded in {ip})" if why else None
        if ip.scope_id:
            return "link-local address"
    checks: list[tuple[bool, str]] = [
        (ip in METADATA, "cloud metadata address"),
        (ip.is_unspecified, "unspecified address"),
        (ip.is_loopback, "loopback address"),
        (ip.is_link_local, "link-local address"),
        (ip.is_multicast, "multicast address"),
        (ip.is_reserved, "reserved address"),
        (ip.is_private, "private address"),
        (not ip.is_global, "non-global address"),
    ]
    return next((why for bad, why in checks if bad), None)


@dataclass(frozen=True)
class Checked:
    """A host that passed the guard, and the address to pin the connection to (None: not pinned)."""

    host: str
    ip: IPAddress | None


def _refuse(host: str, ip: object, why: str) -> DeliveryError:
    return DeliveryError(
        f"refused destination {host} ({ip}): {why}; set allow_private: true on the sink to allow it",
        retryable=False,
    )


async def check_host(host: str, port: int, *, allow_private: bool = False) -> Checked:
    """Resolve ``host`` and refuse it if any address is not public. Raises DeliveryError."""
    if allow_private:
        return Checked(host, None)
    bare = host.strip("[]")
    try:
        literal: IPAddress | None = ipaddress.ip_address(bare.split("%", 1)[0] if "%" in bare else bare)
    except ValueError:
        literal = None
    if literal is not None:
        why = refusal(literal) or ("link-local address" if "%" in bare else None)
        if why:
            raise _refuse(host, literal, why)
        return Checked(host, None)  # already an address: nothing to pin
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(bare, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        # A name that does not resolve now may resolve later (DNS outage).
        raise DeliveryError(f"cannot resolve {host}: {exc}", retryable=True) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        why = refusal(ip)
        if why:
            raise _refuse(host, ip, why)
        addresses.append(ip)
    if not addresses:
        raise DeliveryError(f"cannot resolve {host}: no addresses", retryable=True)
    return Checked(host, addresses[0])


async def guard_url(url: httpx.URL, *, allow_private: bool = False) -> Checked:
    """Check the URL's scheme and host; raises a permanent DeliveryError when refused."""
    if url.scheme not in ("http", "https"):
        raise DeliveryError(f"refused URL scheme {url.scheme!r}: only http and https", retryable=False)
    if not url.host:
        raise DeliveryError("refused URL without a host", retryable=False)
    port = url.port or (443 if url.scheme == "https" else 80)
    return await check_host(url.host, port, allow_private=allow_private)


def pin(url: httpx.URL, checked: Checked) -> tuple[httpx.URL, dict[str, str], str | None]:
    """The URL rewritten to the checked IP, plus the ``Host`` header and the TLS server name.

    The TLS handshake still names (and verifies the certificate of) the original host.
    """
    if checked.ip is None:
        return url, {}, None
    host_header = url.netloc.decode("ascii")
    if "@" in host_header:
        host_header = host_header.rpartition("@")[2]
    server_hostname = url.host if url.scheme == "https" else None
    return url.copy_with(host=str(checked.ip)), {"Host": host_header}, server_hostname
