"""Outbound HTTP to URLs that users give us (webhooks now, any later callback).

A user's URL is an attacker's way to reach what only the cluster can: the cloud metadata service
(169.254.169.254), Triton or a database on loopback, a pod by its private address. So every call
made here goes through the same steps:

- https only; http only under the explicit development setting (which also allows loopback, for
  the local stack's receivers), never in a deployment;
- the host is resolved once and *every* address it resolves to is checked: loopback, private
  (RFC 1918, IPv6 ULA), link-local, multicast, unspecified, reserved or otherwise not public, and
  the deployment's own ranges (pods, services) are refused, with the reason;
- the connection goes to the address that was checked, so a second DNS answer (rebinding) cannot
  switch it, while the Host header, TLS SNI and certificate check stay the URL's name;
- redirects are not followed (the status is the answer), and the response is capped in size and
  the whole exchange in time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
from httpcore._backends.base import SOCKET_OPTION

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

NAT64 = ipaddress.ip_network("64:ff9b::/96")


def cidrs(raw: str) -> tuple[Network, ...]:
    """KINORA_EGRESS_DENIED_CIDRS: networks separated by commas, e.g. 10.96.0.0/12,fd00:10::/48."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"expected CIDR ranges separated by commas, such as 10.96.0.0/12 ({exc})") from None


@dataclass(frozen=True)
class EgressPolicy:
    # Development only: http:// URLs and loopback addresses are allowed (the local stack).
    development: bool = False
    # The deployment's own ranges (pod and service CIDRs), refused like private ones.
    denied_networks: tuple[Network, ...] = ()
    timeout_s: float = 10.0
    max_response_bytes: int = 64 * 1024


class EgressError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class EgressRefused(EgressError):
    """The URL or an address it resolves to is not allowed; nothing was sent."""


class EgressFailed(EgressError):
    """The call was allowed but gave no usable answer (connection, time or size)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str  # the checked address the connection goes to


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: Address) -> list[Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64): they route there too."""
    if ip.version != 6:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def address_problem(address: str, policy: EgressPolicy) -> str | None:
    """Why `address` may not be called ("a private address"), or None if it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return "not an IP address"
    for candidate in [*_embedded_ipv4(ip), ip]:  # the embedded address first: its reason is the telling one
        for network in policy.denied_networks:
            if candidate.version == network.version and candidate in network:
                return f"inside {network}, a range this deployment keeps internal"
        if candidate.is_loopback:
            if not policy.development:
                return "a loopback address"
        elif candidate.is_link_local:
            return "a link-local address (where cloud metadata services answer)"
        elif candidate.is_multicast:
            return "a multicast address"
        elif candidate.is_unspecified:
            return "the unspecified address"
        elif candidate.is_private:
            return "a private address"
        elif candidate.is_reserved:
            return "a reserved address"
        elif not candidate.is_global:
            return "not a public address"
    return None


def parse_url(url: str, policy: EgressPolicy) -> tuple[str, str, int]:
    """(scheme, host, port) of an allowed URL, or EgressRefused saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise EgressRefused("invalid_url", "the URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused("invalid_url", "the URL must be https:// with a host name")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused("invalid_url", "the URL must not carry a user name or password")
    if parts.scheme == "http" and not policy.development:
        raise EgressRefused("https_required", "the URL must use https://; http:// is allowed only in development")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP to the checked address whatever host the request names; TLS (started by httpcore
    with the URL's host) still sends that name as SNI and checks the certificate against it."""

    def __init__(self, address: str):
        self.address, self.inner = address, httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_tcp(self.address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("invalid_url", "unix sockets are not an egress target")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class Egress:
    """Checked outbound requests under one policy. `resolver` answers DNS (the system's unless a
    caller gives another); `ssl_context` is the default trust store unless given."""

    def __init__(
        self, policy: EgressPolicy, *, resolver: Resolver = system_resolver, ssl_context: ssl.SSLContext | None = None
    ):
        self.policy, self.resolver = policy, resolver
        self.ssl_context = ssl_context or ssl.create_default_context()

    async def check(self, url: str) -> Target:
        """Resolve once and check every address; the target to connect to, or EgressRefused."""
        scheme, host, port = parse_url(url, self.policy)
        try:
            addresses = await self.resolver(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise EgressRefused("host_not_found", f"the host {host} does not resolve to any address")
        for address in addresses:
            problem = address_problem(address, self.policy)
            if problem:
                shown = host if host == address else f"{host} resolves to {address}, which"
                raise EgressRefused(
                    "address_not_allowed", f"{shown} is {problem}: outbound calls go to public addresses only"
                )
        return Target(url.strip(), scheme, host, port, addresses[0])

    async def request(
        self, method: str, url: str, *, content: bytes = b"", headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        """One exchange, redirects not followed; EgressRefused before anything is sent,
        EgressFailed when no whole answer came within the policy's time and size."""
        try:
            async with asyncio.timeout(self.policy.timeout_s):
                target = await self.check(url)
                return await self._exchange(target, method, content, headers)
        except TimeoutError:
            raise EgressFailed("timeout", f"no complete answer within {self.policy.timeout_s:g} s") from None
        except httpcore.TimeoutException:
            raise EgressFailed("timeout", f"no complete answer within {self.policy.timeout_s:g} s") from None
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, OSError) as exc:
            raise EgressFailed("connection_failed", f"the exchange failed: {exc or type(exc).__name__}") from None

    async def post(self, url: str, content: bytes, headers: Iterable[tuple[str, str]] = ()) -> Response:
        return await self.request("POST", url, content=content, headers=headers)

    async def _exchange(
        self, target: Target, method: str, content: bytes, headers: Iterable[tuple[str, str]]
    ) -> Response:
        default_port = 443 if target.scheme == "https" else 80
        name = f"[{target.host}]" if ":" in target.host else target.host
        host_header = name if target.port == default_port else f"{name}:{target.port}"
        sent = [
            ("Host", host_header),
            ("Content-Length", str(len(content))),
            ("Connection", "close"),
            *((k, v) for k, v in headers if k.lower() not in ("host", "content-length", "connection")),
        ]
        timeout = {
            "connect": self.policy.timeout_s,
            "read": self.policy.timeout_s,
            "write": self.policy.timeout_s,
            "pool": self.policy.timeout_s,
        }
        async with httpcore.AsyncConnectionPool(
            ssl_context=self.ssl_context, max_connections=1, retries=0, network_backend=_PinnedBackend(target.address)
        ) as pool:
            async with pool.stream(
                method, target.url, headers=sent, content=content, extensions={"timeout": timeout}
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_stream():
                    body += chunk
                    if len(body) > self.policy.max_response_bytes:
                        raise EgressFailed(
                            "response_too_large",
                            "the answer is larger than "
                            f"{self.policy.max_response_bytes} bytes; it was not read further",
                        )
                return Response(response.status, list(response.headers), bytes(body))
