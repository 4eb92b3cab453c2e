"""Who is calling. Access tokens are JWTs signed by identity (EdDSA, with
`kid`), verified here locally against identity's JWKS: no call per request.

The JWKS is cached for the max-age identity publishes with it, then read again,
so a key removed there stops being trusted here within that time (and tokens
verified under it leave the cache). An unknown `kid` triggers at most one
refresh per `min_refresh_s`, so rotated keys are picked up without logging
anyone out and a flood of forged kids cannot hammer identity. Verified tokens
are cached until they expire, which keeps verification cheap on hot paths.

Sign-out ends access tokens too, within REVOCATION_MAX_AGE_S (30 s): a user's
token names its sign-in (`sid`), and the verifier keeps identity's list of
recently ended sessions (ListRevokedSessions), re-read at most every 30 s, and
refuses a token of a listed session, cached or not (a set lookup).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt

from kinora.runtime.errors import PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "kinora-identity"
AUDIENCE = "kinora"
ALGORITHMS = ["EdDSA"]
DEFAULT_JWKS_MAX_AGE_S = 300.0  # when a JWKS comes without one

log = logging.getLogger("kinora.auth")


@dataclass(frozen=True)
class Principal:
    subject: str  # user id, or "service:<name>"
    kind: str  # "user", "apikey" or "service"
    handle: str = ""
    scopes: frozenset[str] = field(default_factory=frozenset)
    teen: bool = False
    token: str = field(default="", repr=False, compare=False)
    session_id: str = ""  # the sign-in a user's access token came from ("sid")

    @property
    def is_service(self) -> bool:
        return self.kind == "service"


current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def principal() -> Principal | None:
    return current_principal.get()


def require_user() -> Principal:
    p = current_principal.get()
    if p is None or p.is_service:
        raise Unauthenticated("sign in first: this call needs a valid access token")
    return p


def require_service(*names: str) -> Principal:
    p = current_principal.get()
    if p is None:
        raise Unauthenticated("this internal call needs a service token")
    if not p.is_service or (names and p.subject.removeprefix("service:") not in names):
        raise PermissionDenied("only Kinora services may make this call")
    return p


def require_user_or_service() -> Principal:
    p = current_principal.get()
    if p is None:
        raise Unauthenticated("sign in first: this call needs a valid access token")
    return p


def principal_from_claims(claims: dict[str, Any], token: str = "") -> Principal:
    return Principal(
        subject=str(claims["sub"]),
        kind=str(claims.get("kind", "user")),
        handle=str(claims.get("handle", "")),
        scopes=frozenset(claims.get("scopes", ())),
        teen=bool(claims.get("teen", False)),
        token=token,
        session_id=str(claims.get("sid", "")),
    )


JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]
# () -> {"session_ids": [...], "max_age_seconds": n}: sessions ended at identity.
RevocationFetcher = Callable[[], Awaitable[dict[str, Any]]]
REVOCATION_MAX_AGE_S = 30.0  # the longest a verifier trusts its deny list (and the default)


INTERNAL_KID = "kinora-internal"


def mint_service_token(service: str, secret: str, ttl_s: int = 3600) -> tuple[str, float]:
    """A token for service-to-service calls made outside any user request
    (workers, consumers), signed with the cluster's shared internal secret.
    Returns (token, expiry as a Unix time)."""
    now = int(time.time())
    exp = now + ttl_s
    token = jwt.encode(
        {"sub": f"service:{service}", "kind": "service", "iat": now, "exp": exp, "iss": ISSUER, "aud": AUDIENCE},
        secret,
        algorithm="HS256",
        headers={"kid": INTERNAL_KID},
    )
    return token, float(exp)


class TokenVerifier:
    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        internal_secret: str | None = None,
        min_refresh_s: float = 30.0,
        cache_size: int = 50_000,
        fetch_revoked: RevocationFetcher | None = None,
        revoked_max_age_s: float = REVOCATION_MAX_AGE_S,
    ):
        self._fetch = fetch_jwks
        # Ended sessions: a set lookup per call; re-read at most REVOCATION_MAX_AGE_S after the last read.
        self._fetch_revoked = fetch_revoked
        self._revoked: frozenset[str] = frozenset()
        self._revoked_stale_at = 0.0
        self._revoked_lock = asyncio.Lock()
        self._revoked_max_age_s = min(revoked_max_age_s, REVOCATION_MAX_AGE_S)
        self._internal_secret = internal_secret
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_refresh = 0.0
        self._stale_at = 0.0  # monotonic time the JWKS's max-age runs out
        self._min_refresh_s = min_refresh_s
        self._refresh_lock = asyncio.Lock()
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size

    def load_jwks(self, jwks: dict[str, Any]) -> None:
        """`jwks`: {"keys": [...], "max_age_seconds": how long it may be used}."""
        keys = {k["kid"]: jwt.PyJWK(k) for k in jwks.get("keys", []) if "kid" in k}
        if self._keys.keys() - keys.keys():
            self._cache.clear()  # tokens verified under a removed key must not outlive it here
        self._keys = keys
        self._last_refresh = time.monotonic()
        self._stale_at = self._last_refresh + float(jwks.get("max_age_seconds") or DEFAULT_JWKS_MAX_AGE_S)

    async def refresh(self, force: bool = False) -> None:
        async with self._refresh_lock:
            if not force and time.monotonic() - self._last_refresh < self._min_refresh_s:
                return
            self.load_jwks(await self._fetch())

    def verify_cached(self, token: str) -> Principal | None:
        """Fast path: a token verified before and not yet expired."""
        hit = self._cache.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        return None

    def verify_with_keys(self, token: str) -> Principal | None:
        """Verify against the keys at hand; None when the kid is unknown."""
        try:
            kid: str | None = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise Unauthenticated("the access token is malformed") from None
        key: str | jwt.PyJWK | None
        if kid == INTERNAL_KID:
            if not self._internal_secret:
                raise Unauthenticated("service tokens are not accepted here")
            key, algorithms = self._internal_secret, ["HS256"]
        else:
            key, algorithms = self._keys.get(kid) if kid is not None else None, ALGORITHMS
            if key is None:
                return None
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=algorithms,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired; refresh it and try again", "token_expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the access token is not valid") from None
        if claims.get("kind") == "service" and kid != INTERNAL_KID:
            raise Unauthenticated("the access token is not valid")
        found = principal_from_claims(claims, token)
        self._cache[token] = (found, float(claims["exp"]))
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return found

    async def _reload_if_stale(self, token: str) -> None:
        if time.monotonic() < self._stale_at or _kid(token) == INTERNAL_KID:
            return
        async with self._refresh_lock:
            if time.monotonic() < self._stale_at:
                return  # another call re-read it meanwhile
            try:
                self.load_jwks(await self._fetch())
            except Exception as exc:  # noqa: BLE001 - any failure to reach identity
                if not self._keys:
                    raise
                # Refusing every caller while identity is unreachable would be worse than trusting
                # its last answer a little longer; try again shortly.
                log.warning("could not re-read the JWKS, keeping the last one for now: %s", exc)
                self._stale_at = time.monotonic() + self._min_refresh_s

    async def _reload_revoked_if_stale(self) -> None:
        if self._fetch_revoked is None or time.monotonic() < self._revoked_stale_at:
            return
        async with self._revoked_lock:
            if time.monotonic() < self._revoked_stale_at:
                return  # another call re-read it meanwhile
            try:
                listed = await self._fetch_revoked()
            except Exception as exc:  # noqa: BLE001 - any failure to reach identity
                # Keep the last list (sessions only ever join it) and ask again shortly.
                log.warning("could not read the revoked sessions, keeping the last list for now: %s", exc)
                self._revoked_stale_at = time.monotonic() + min(self._min_refresh_s, self._revoked_max_age_s)
                return
            self._revoked = frozenset(listed.get("session_ids", ()))
            max_age = float(listed.get("max_age_seconds") or self._revoked_max_age_s)
            self._revoked_stale_at = time.monotonic() + min(max_age, self._revoked_max_age_s)

    async def verify(self, token: str) -> Principal:
        await self._reload_if_stale(token)
        await self._reload_revoked_if_stale()
        found = self.verify_cached(token) or self.verify_with_keys(token)
        if found is None:
            await self.refresh()  # maybe the key was rotated in
            found = self.verify_with_keys(token)
        if found is None:
            raise Unauthenticated("the access token was signed by an unknown key")
        if found.session_id and found.session_id in self._revoked:
            raise Unauthenticated("this sign-in has ended (signed out); sign in again", "session_revoked")
        return found


def _kid(token: str) -> str | None:
    try:
        kid: str | None = jwt.get_unverified_header(token).get("kid")
        return kid
    except jwt.PyJWTError:
        return None


def bearer_token(metadata: Iterable[tuple[str, str]] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
            return token.strip()
    return None


def mint_access_token(
    private_key: Ed25519PrivateKey,
    kid: str,
    subject: str,
    *,
    kind: str = "user",
    handle: str = "",
    scopes: list[str] | tuple[str, ...] = (),
    teen: bool = False,
    ttl_s: int = 900,
    token_id: str | None = None,
    session_id: str = "",
) -> tuple[str, float]:
    """Sign an access token (EdDSA). Identity is the only production caller;
    returns (token, expiry as a Unix time)."""
    import uuid

    now = int(time.time())
    exp = now + ttl_s
    claims = {
        "sub": subject,
        "kind": kind,
        "handle": handle,
        "scopes": list(scopes),
        "teen": teen,
        "iat": now,
        "exp": exp,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": token_id or uuid.uuid4().hex,
    }
    if session_id:
        claims["sid"] = session_id  # what sign-out ends: verifiers refuse tokens of a revoked session
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid}), float(exp)


def public_jwk(public_key: Ed25519PublicKey, kid: str) -> dict[str, Any]:
    """The JWKS entry for an Ed25519 public key."""
    import json

    from jwt.algorithms import OKPAlgorithm

    jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(public_key))
    jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return jwk
