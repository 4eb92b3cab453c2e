"""How a generator process (the API or a worker) reaches the other services:
one service token source, billing, cameo consent, identity's face directory
and feed visibility, built the same way for both."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime import auth
from kinora.runtime.clients import TokenSource
from services.generator.remote import GrpcBilling, GrpcConsentChecker, GrpcFaceDirectory, GrpcFeedVisibility
from services.generator.settings import GeneratorSettings, require_billing

SERVICE_NAME = "generator"  # workers act as the generator: its token, its certificate


def service_tokens(settings: GeneratorSettings) -> TokenSource | None:
    """Credentials for calls made outside any user request (no internal secret: none)."""
    secret = settings.internal_secret
    if not secret:
        return None

    async def fetch():
        return auth.mint_service_token(SERVICE_NAME, secret)

    return TokenSource(fetch)


@dataclass
class Remotes:
    tokens: TokenSource | None
    billing: object  # domain.Billing
    consent: GrpcConsentChecker | None  # None without KINORA_CAMEO_ADDR: cameos are refused
    faces: GrpcFaceDirectory | None  # None without KINORA_IDENTITY_ADDR
    feed: GrpcFeedVisibility | None  # None without KINORA_FEED_ADDR


def consent_checker(settings: GeneratorSettings, tokens: TokenSource | None) -> GrpcConsentChecker | None:
    if not settings.cameo_addr:
        return None
    return GrpcConsentChecker(settings.cameo_addr, tokens, settings.likeness_dir or settings.blob_dir)


def connect(settings: GeneratorSettings, billing=None) -> Remotes:
    """Clients of the other services. `billing` replaces the billing service's
    client (tests that hold their own); otherwise KINORA_BILLING_ADDR is required."""
    tokens = service_tokens(settings)
    if billing is None:
        billing = GrpcBilling(require_billing(settings).billing_addr, tokens)
    consent = consent_checker(settings, tokens)
    faces = GrpcFaceDirectory(settings.identity_addr, settings.cameo_addr, tokens) if settings.identity_addr else None
    feed = GrpcFeedVisibility(settings.feed_addr, tokens) if settings.feed_addr else None
    return Remotes(tokens, billing, consent, faces, feed)
