"""Where our HTTP clients may connect: public addresses only, unless a destination is allowed.

A feed item, a redirect or a webhook URL can name any host, and a collector that fetches it and
stores the text would carry a page from inside our network to an analyst's screen (SSRF). So
the check sits at the one place no URL can get around: the TCP connect. Every connection of the
collectors' and webhooks' clients resolves the host, refuses loopback, private, link-local
(cloud metadata at 169.254.169.254 included), shared, multicast and reserved addresses, and then
connects to the address it checked (no second lookup: DNS rebinding gains nothing). Redirects
are followed by hand, each hop a new connection, so they are checked too.

A destination on such an address is used only when named: `allow_internal: true` on a source in
`sources.yaml` (or on a webhook channel in `routing.yaml`) allows that entry's own host and port.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpcore
import httpx

from ingest.exceptions import EgressRefused

__all__ = [
    "EgressPolicy",
    "guarded_async_transport",
    "guarded_transport",
    "netloc_key",
    "refusal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services some clouds put on addresses the generic checks may not catch.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}


def refusal(ip: IPAddress) -> str | None:
    """Why we never connect to `ip` unasked, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return refusal(embedded)
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"  # e.g. 100.64.0.0/10, shared address space
    return None


def netloc_key(host: str, port: int | None, scheme: str = "https") -> str:
    """`host:port` as the guard sees a connection (default port filled in, brackets off)."""
    port = port or (443 if scheme == "https" else 80)
    return f"{host.strip('[]').lower()}:{port}"


@dataclass(frozen=True)
class EgressPolicy:
    """Hosts (`host:port`) allowed to be on non-public addresses; everything else must be."""

    allowed: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def allowing(cls, urls: Iterable[str]) -> EgressPolicy:
        keys = set()
        for url in urls:
            parsed = httpx.URL(url)
            keys.add(netloc_key(parsed.host, parsed.port, parsed.scheme))
        return cls(frozenset(keys))

    def check(self, host: str, port: int, addresses: list[IPAddress]) -> IPAddress:
        """The address to connect to, or `EgressRefused`."""
        if not addresses:
            raise EgressRefused(f"{host}:{port} did not resolve", url=f"//{host}:{port}")
        if netloc_key(host, port) in self.allowed:
            return addresses[0]
        for ip in addresses:
            why = refusal(ip)
            if why is not None:
                # One bad answer refuses the host: a record set mixing public and internal
                # addresses is how rebinding attacks start.
                raise EgressRefused(
                    f"{host}:{port} resolves to {ip}, {why}; not fetched (allow it with"
                    " `allow_internal: true` on its entry if it is really a source)",
                    url=f"//{host}:{port}",
                )
        return addresses[0]


def _literal(host: str) -> list[IPAddress]:
    """[the address] when `host` is an IP literal, else [] (a name to resolve)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        return []


async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    try:
        with anyio.fail_after(timeout):
            return _addresses(await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, TimeoutError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[IPAddress]:
    seen: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


class _GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        found = _literal(host) or await _resolve(host, port, timeout)
        ip = self._policy.check(host, port, found)
        return await self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("unix sockets are not a destination", url="unix:")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = _literal(host) or _addresses(
                socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        ip = self._policy.check(host, port, found)
        return self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise EgressRefused("unix sockets are not a destination", url="unix:")


def _pool_options(limits: httpx.Limits) -> dict[str, Any]:
    """What httpx would give its own connection pool, for the guarded one we give it."""
    return {
        "ssl_context": httpx.create_ssl_context(trust_env=False),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


def guarded_async_transport(
    policy: EgressPolicy, limits: httpx.Limits | None = None
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport with the guard as its network backend. httpx takes no backend
    argument, so its connection pool is rebuilt with one; TLS still verifies the *host name*
    (SNI and certificate), only the TCP connect goes to the checked address."""
    limits = limits or httpx.Limits()
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(  # httpx has no public hook for this
        network_backend=_GuardedAsyncBackend(policy), **_pool_options(limits)
    )
    return transport


def guarded_transport(policy: EgressPolicy) -> httpx.HTTPTransport:
    """The same guard for synchronous clients (webhook deliveries)."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        network_backend=_GuardedBackend(policy), **_pool_options(httpx.Limits())
    )
    return transport
