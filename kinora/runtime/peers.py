"""Who is at the other end of a mutual-TLS connection, and what it may claim.

A service's certificate names it in a URI subject alternative name,
`spiffe://kinora/<service>`. With mutual TLS on, a server believes a
`service:<name>` token only from a peer whose certificate names that same
service, and a user's token only from the services that forward users' tokens
(the gateway, and feed when it re-checks consent on a user's behalf). So a
leaked internal secret, or one service's stolen key, no longer lets its holder
act as any other service. Without TLS (development) nothing here applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kinora.runtime.auth import Principal
from kinora.runtime.errors import Unauthenticated

if TYPE_CHECKING:
    from grpc.aio import ServicerContext

TRUST_DOMAIN = "kinora"
_PREFIX = f"spiffe://{TRUST_DOMAIN}/"
_PREFIX_BYTES = _PREFIX.encode()
# Services that call others with the token of the user they are serving.
USER_TOKEN_PEERS = ("gateway", "feed")


def service_uri(service: str) -> str:
    return _PREFIX + service


def service_from_identities(identities: Iterable[bytes | str] | None) -> str | None:
    """The service a peer certificate names (its spiffe://kinora/<name> SAN), or None."""
    for value in identities or ():
        raw = value if isinstance(value, bytes) else str(value).encode()
        if raw.startswith(_PREFIX_BYTES):
            name = raw[len(_PREFIX_BYTES) :].decode(errors="replace")
            if name and "/" not in name:
                return name
    return None


class PeerPolicy:
    """Checks a call's principal against the certificate of the connection it came on.
    The name found for a certificate is cached, keyed by the certificate's identities
    (not by address: a reused address may carry another certificate)."""

    def __init__(self, user_token_peers: tuple[str, ...] | list[str] = USER_TOKEN_PEERS, cache_size: int = 1024):
        self.user_token_peers = frozenset(user_token_peers)
        self._names: dict[tuple[bytes, ...], str | None] = {}
        self._cache_size = cache_size

    def peer_service(self, context: ServicerContext[Any, Any]) -> str | None:
        identities = context.peer_identities()
        if not identities:
            return None
        key = tuple(identities)
        try:
            return self._names[key]
        except KeyError:
            pass
        name = service_from_identities(key)
        if len(self._names) >= self._cache_size:
            self._names.clear()
        self._names[key] = name
        return name

    def check(self, principal: Principal | None, context: ServicerContext[Any, Any]) -> None:
        """Raises Unauthenticated when the connection's certificate does not back the principal."""
        if principal is None:
            return  # anonymous calls (sign-in, JWKS, health) need only a cluster certificate
        peer = self.peer_service(context)
        if principal.is_service:
            claimed = principal.subject.removeprefix("service:")
            if peer != claimed:
                raise Unauthenticated(
                    f"a {principal.subject} token is only accepted over a connection with {claimed}'s "
                    f"certificate; this one is {_describe(peer)}",
                    "peer_mismatch",
                )
        elif peer not in self.user_token_peers:
            raise Unauthenticated(
                f"users' tokens are only accepted from {', '.join(sorted(self.user_token_peers))}; "
                f"this connection is {_describe(peer)}",
                "peer_mismatch",
            )


def _describe(peer: str | None) -> str:
    return f"{peer}'s" if peer else "one whose certificate names no Kinora service"
