"""What every route needs: the service stubs, who is calling, and rate limits.

Access tokens (JWT from identity) are verified here against identity's JWKS,
cached, so a request costs no identity call. API keys are traded once for a
short-lived access token (identity's ExchangeApiKey), cached until shortly
before it expires (services/gateway/apikeys.py); a key not in the cache is
rate limited per client before identity is asked. The verified caller is put
in `current_principal` so the outgoing gRPC channel forwards the caller's own
token: services authorise the real user, never "the gateway".
"""

from __future__ import annotations

import asyncio

import grpc
from fastapi import Request
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kinora.billing.v1 import billing_pb2_grpc
from kinora.cameo.v1 import cameo_pb2_grpc
from kinora.feed.v1 import feed_pb2_grpc
from kinora.generator.v1 import generator_pb2_grpc
from kinora.identity.tokens import jwks_from_identity, revoked_sessions_from_identity
from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.runtime import auth
from kinora.runtime.affinity import AffinityChannels
from kinora.runtime.clients import TokenSource, channel
from kinora.runtime.convert import epoch_seconds
from kinora.runtime.errors import KinoraError
from services.gateway.apikeys import ApiKeyCache, Exchanged
from services.gateway.errors import ApiError
from services.gateway.ratelimit import Limit, make_limiter, retry_after_header
from services.gateway.settings import GatewaySettings

SERVICES = ("identity", "cameo", "feed", "generator", "billing")


class Gateway:
    def __init__(self, settings: GatewaySettings, *, jwks_fetcher=None):
        self.settings = settings
        self.channels = {name: channel(getattr(settings, f"{name}_addr")) for name in SERVICES}
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.channels["identity"])
        self.cameo = cameo_pb2_grpc.CameoServiceStub(self.channels["cameo"])
        self.feed = feed_pb2_grpc.FeedServiceStub(self.channels["feed"])
        # GetFeed: a viewer's pages go to the replica that keeps the viewer's ranking (services/feed/rankings.py).
        self.feed_by_viewer = AffinityChannels(
            settings.feed_addr, feed_pb2_grpc.FeedServiceStub, shared=self.channels["feed"]
        )
        self.generator = generator_pb2_grpc.GeneratorServiceStub(self.channels["generator"])
        # Server-streaming calls (progress, media) go on a plain channel with the caller's token
        # passed explicitly: grpc.aio runs stream interceptors in a task that does not see the
        # request's principal.
        self._streaming_channel = channel(settings.generator_addr, intercept=False)
        self.streaming_generator = generator_pb2_grpc.GeneratorServiceStub(self._streaming_channel)
        self.pools = generator_pb2_grpc.PoolAdminServiceStub(self.channels["generator"])
        self.billing = billing_pb2_grpc.BillingServiceStub(self.channels["billing"])
        self.verifier = auth.TokenVerifier(
            jwks_fetcher or jwks_from_identity(settings.identity_addr),
            fetch_revoked=None if jwks_fetcher else revoked_sessions_from_identity(settings.identity_addr),
        )
        self.limiter = make_limiter(settings.redis_url)
        self.user_limit = Limit(settings.user_rate, settings.user_burst)
        self.key_limit = Limit(settings.key_rate, settings.key_burst)
        self.anon_limit = Limit(settings.anon_rate, settings.anon_burst)
        self.exchange_limit = Limit(settings.key_exchange_rate, settings.key_exchange_burst)
        self.api_keys = ApiKeyCache(self._exchange, settings.apikey_cache_size)
        # Calls the gateway makes on its own behalf (API key exchange, webhook polling).
        self.service_channels = {}
        if settings.internal_secret:
            secret = settings.internal_secret

            async def mint():
                return auth.mint_service_token("gateway", secret)

            source = TokenSource(mint)
            self.service_identity = identity_pb2_grpc.IdentityServiceStub(channel(settings.identity_addr, source))
            self.service_generator = generator_pb2_grpc.GeneratorServiceStub(channel(settings.generator_addr, source))
        else:
            self.service_identity = self.service_generator = None
        # Sign-in and refresh go as the gateway: only then does identity take the client address
        # it is told (for its per-client back-off) instead of the caller's own peer address.
        self.edge_identity = self.service_identity or self.identity

    @property
    def timeout(self) -> float:
        return self.settings.call_timeout_s

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
        await self._streaming_channel.close()
        await self.feed_by_viewer.close()
        await self.limiter.close()

    async def ready(self) -> dict[str, str]:
        """Health of every dependency, by name."""

        async def check(name):
            try:
                reply = await health_pb2_grpc.HealthStub(self.channels[name]).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
                return name, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                reason = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else type(exc).__name__
                return name, f"unreachable ({reason})"

        return dict(await asyncio.gather(*(check(n) for n in SERVICES)))

    # -- callers ----------------------------------------------------------------

    async def rate_limit(self, key: str, limit: Limit) -> None:
        wait = await self.limiter.acquire(key, limit)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests; retry in {retry_after_header(wait)} s",
                {"Retry-After": retry_after_header(wait)},
            )

    async def _exchange(self, secret: str) -> Exchanged:
        if self.service_identity is None:
            raise ApiError(503, "api_keys_unavailable", "API keys need KINORA_INTERNAL_SECRET on the gateway")
        reply = await self.service_identity.ExchangeApiKey(
            identity_pb2.ExchangeApiKeyRequest(secret=secret), timeout=self.timeout
        )
        return Exchanged(reply.access_token, epoch_seconds(reply.expires_at), reply.api_key_id)

    async def authenticate(self, request: Request, *, allow_api_key: bool) -> auth.Principal:
        header = request.headers.get("authorization")
        if not header:
            raise ApiError(401, "unauthenticated", "sign in first: send 'Authorization: Bearer <token>'")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise ApiError(401, "unauthenticated", "the Authorization header must be 'Bearer <token>'")
        try:
            if credential.count(".") == 2:  # a JWT
                found = await self.verifier.verify(credential)
                rate_key, limit = f"user:{found.subject}", self.user_limit
            else:
                if not allow_api_key:
                    raise ApiError(
                        401, "api_key_not_allowed", "API keys work on /v1/videos only; sign in for the app API"
                    )
                exchanged = await self.api_keys.get(
                    credential, lambda: self.rate_limit(f"keyx:{client_address(request)}", self.exchange_limit)
                )
                found = await self.verifier.verify(exchanged.token)
                rate_key, limit = f"key:{exchanged.api_key_id}", self.key_limit
                request.state.api_key_id = exchanged.api_key_id
        except KinoraError as exc:
            raise ApiError(401, exc.code, exc.message) from None
        if found.is_service:
            raise ApiError(401, "unauthenticated", "service tokens are not accepted at the public edge")
        await self.rate_limit(rate_key, limit)
        auth.current_principal.set(found)
        return found


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway


async def user(request: Request) -> auth.Principal:
    """A signed-in person (JWT). Sets the principal the outgoing calls forward."""
    return await gateway_of(request).authenticate(request, allow_api_key=False)


async def developer(request: Request) -> auth.Principal:
    """An API key or a signed-in person, for the Sora-compatible API."""
    return await gateway_of(request).authenticate(request, allow_api_key=True)


def require_scope(caller: auth.Principal, scope: str) -> None:
    if caller.kind == "apikey" and scope not in caller.scopes:
        raise ApiError(403, "insufficient_scope", f"this API key lacks the '{scope}' scope")


def client_address(request: Request) -> str:
    """The client's address: uvicorn has already taken it from X-Forwarded-For when the peer is a
    trusted proxy (services/gateway/server.py)."""
    return request.client.host if request.client else "unknown"


async def anonymous(request: Request) -> str:
    """Rate limit unauthenticated calls (sign-up, sign-in) by client address."""
    address = client_address(request)
    await gateway_of(request).rate_limit(f"addr:{address}", gateway_of(request).anon_limit)
    return address
