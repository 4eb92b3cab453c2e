"""Calls about one key go to one replica: rendezvous hashing over the addresses a target resolves to.

A channel to `dns:///feed:50063` spreads calls round robin over the feed's pods. The feed keeps each
viewer's ranking in the replica's memory between pages (services/feed/rankings.py), so a viewer's
pages should reach the replica that ranked them: with round robin over R replicas a session is
ranked up to R times instead of once. `AffinityChannels` resolves the target itself (again every
`refresh_s`), keeps one channel per address and sends a key's calls to the address with the highest
hash of (key, address). When a replica comes or goes only the keys it owned move; a call whose
replica is unreachable goes once more over the ordinary round-robin channel, so affinity never costs
availability, only (on a moved key) one ranking.

With a single address (the local stack, a plain host:port) every key maps to it: the same as one
channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import grpc

from kinora.runtime.clients import TokenSource, channel

log = logging.getLogger(__name__)


def owner(key: str, addresses: list[str]) -> str:
    """The address `key` belongs to (highest rendezvous score); `addresses` is not empty."""
    return max(addresses, key=lambda a: hashlib.blake2b(f"{key}\0{a}".encode(), digest_size=8).digest())


def split_target(target: str) -> tuple[str, int, bool]:
    """(host, port, resolve): `resolve` is whether the target names every replica (dns:///)."""
    resolve = target.startswith("dns:///")
    host, _, port = target.removeprefix("dns:///").rpartition(":")
    return host.strip("[]"), int(port), resolve


class AffinityChannels:
    def __init__(
        self,
        target: str,
        stub_class: Callable[[grpc.aio.Channel], Any],
        token_source: TokenSource | None = None,
        refresh_s: float = 30.0,
        resolver: Callable[[str, int], list[str]] | None = None,
        shared: grpc.aio.Channel | None = None,
    ):
        """`shared`: the caller's own round-robin channel to `target`, if it has one (it stays the
        caller's to close); else one is opened."""
        self.target, self.token_source, self.refresh_s = target, token_source, refresh_s
        self.stub_class = stub_class
        self._stubs: dict[int, Any] = {}  # by id() of the channel
        self.host, self.port, self.resolve = split_target(target)
        self.resolver = resolver or resolve_addresses
        self._owns_shared = shared is None
        # Round robin: the fallback, and the only channel when the target is not resolved.
        self.shared = channel(target, token_source) if shared is None else shared
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._addresses: list[str] = []
        self._resolved_at = -float("inf")
        self._resolving: asyncio.Task[None] | None = None

    def channel_for(self, key: str) -> grpc.aio.Channel:
        """The channel of `key`'s replica (the shared one until the first resolution is in)."""
        if not self.resolve:
            return self.shared
        if time.monotonic() - self._resolved_at >= self.refresh_s and self._resolving is None:
            self._resolving = asyncio.get_running_loop().create_task(self._refresh())
        if not self._addresses:
            return self.shared
        return self._channels[owner(key, self._addresses)]

    async def call(self, key: str, method: str, request: Any, **kwargs: Any) -> Any:
        """The stub's `method` on `key`'s replica; once more round robin if that replica can't be
        reached (UNAVAILABLE: the call did not run there)."""
        chosen = self.channel_for(key)
        try:
            return await getattr(self._stub(chosen), method)(request, **kwargs)
        except grpc.aio.AioRpcError as err:
            if chosen is self.shared or err.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            log.info("replica of %s unreachable (%s); round robin instead", self.target, err.details())
            return await getattr(self._stub(self.shared), method)(request, **kwargs)

    def _stub(self, ch: grpc.aio.Channel) -> Any:
        stub = self._stubs.get(id(ch))
        if stub is None:
            stub = self._stubs[id(ch)] = self.stub_class(ch)
        return stub

    async def _refresh(self) -> None:
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, self.resolver, self.host, self.port)
        except OSError as err:
            log.warning("can't resolve %s (%s); keeping %d address(es)", self.target, err, len(self._addresses))
            found = self._addresses
        finally:
            self._resolved_at = time.monotonic()
            self._resolving = None
        for address in set(found) - set(self._channels):
            self._channels[address] = channel(
                address, self.token_source, options=[("grpc.ssl_target_name_override", self.host)]
            )
        gone = [self._channels.pop(a) for a in set(self._channels) - set(found)]
        for old in gone:
            self._stubs.pop(id(old), None)
        self._addresses = sorted(found)
        for old in gone:  # calls in flight on it finish first
            await old.close(grace=5.0)

    async def close(self) -> None:
        if self._resolving is not None:
            self._resolving.cancel()
        for ch in self._channels.values():
            await ch.close(None)
        if self._owns_shared:
            await self.shared.close(None)
        self._channels.clear()
        self._stubs.clear()


def resolve_addresses(host: str, port: int) -> list[str]:
    """host:port of every address `host` resolves to (IPv6 in brackets)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = {f"[{info[4][0]}]:{port}" if info[0] == socket.AF_INET6 else f"{info[4][0]}:{port}" for info in infos}
    return sorted(found)
