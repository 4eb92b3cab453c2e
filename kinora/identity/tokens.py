"""What other services need from identity to verify its tokens: the signing keys (JWKS) and the
sessions it has ended recently, each fetched over identity's gRPC contract.

This sits beside identity's contract rather than in kinora.runtime, which knows no service's
contract: a service passes these fetchers to `create_service` (`**verifier_fetchers(...)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.runtime.clients import channel

Fetcher = Callable[[], Awaitable[dict[str, Any]]]


def _identity_fetcher(
    address: str, call: Callable[[identity_pb2_grpc.IdentityServiceStub], Awaitable[dict[str, Any]]]
) -> Fetcher:
    """An async fetcher that asks identity over `call(stub)` on a channel opened at first use."""
    ch: grpc.aio.Channel | None = None

    async def fetch() -> dict[str, Any]:
        nonlocal ch
        if ch is None:
            ch = channel(address)
        return await call(identity_pb2_grpc.IdentityServiceStub(ch))

    return fetch


def jwks_from_identity(address: str) -> Fetcher:
    """A JWKS fetcher that asks identity over gRPC (on its max-age and on unknown key ids)."""

    async def get(stub: identity_pb2_grpc.IdentityServiceStub) -> dict[str, Any]:
        reply = await stub.GetJwks(identity_pb2.GetJwksRequest(), timeout=5)
        return {
            "keys": [MessageToDict(k, preserving_proto_field_name=True) for k in reply.keys],
            "max_age_seconds": reply.max_age_seconds,
        }

    return _identity_fetcher(address, get)


def revoked_sessions_from_identity(address: str) -> Fetcher:
    """A fetcher of the sessions identity has ended recently (for TokenVerifier's deny list)."""

    async def get(stub: identity_pb2_grpc.IdentityServiceStub) -> dict[str, Any]:
        reply = await stub.ListRevokedSessions(identity_pb2.ListRevokedSessionsRequest(), timeout=5)
        return {"session_ids": list(reply.session_ids), "max_age_seconds": reply.max_age_seconds}

    return _identity_fetcher(address, get)


def verifier_fetchers(identity_addr: str, jwks_fetcher: Fetcher | None = None) -> dict[str, Fetcher | None]:
    """`create_service`'s jwks_fetcher and revocation_fetcher: `jwks_fetcher` where given (tests that
    sign their own tokens, which have no identity to ask, so no deny list either), else identity's
    keys and deny list at `identity_addr`; none where there is no identity address."""
    if jwks_fetcher is not None:
        return {"jwks_fetcher": jwks_fetcher, "revocation_fetcher": None}
    if not identity_addr:
        return {"jwks_fetcher": None, "revocation_fetcher": None}
    return {
        "jwks_fetcher": jwks_from_identity(identity_addr),
        "revocation_fetcher": revoked_sessions_from_identity(identity_addr),
    }
