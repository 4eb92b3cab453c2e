"""IdentityService over gRPC: input arrives as protobuf, the domain runs in a
worker thread (database and argon2 are blocking), the relay is woken after
every change so events leave promptly."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from kinora.identity.v1 import identity_pb2 as pb
from kinora.identity.v1 import identity_pb2_grpc
from kinora.runtime import auth
from kinora.runtime.convert import set_timestamp
from kinora.runtime.errors import PermissionDenied
from kinora.runtime.server import ServiceApp
from kinora.runtime.service import ServiceContext, create_service
from kinora.runtime.settings import SettingsError
from kinora.runtime.subscriptions import by_event_type
from services.identity import handlers
from services.identity.account import Accounts
from services.identity.blobs import BlobStore
from services.identity.domain import Identity
from services.identity.enrolment import FaceMatcher
from services.identity.keys import KeyRing, make_store
from services.identity.models import tables
from services.identity.settings import IdentitySettings
from services.identity.topics import CONSUMES, TOPICS
from services.identity.verification import Verifications

MIGRATIONS = Path(__file__).parent / "migrations"


def _client_address(given: str, context) -> str:
    """The gateway (its service token) passes the real client's address; anyone else is
    identified by their peer address (ipv4:1.2.3.4:5678 -> 1.2.3.4), whatever they state:
    otherwise a caller could pick a fresh address per guess and never back off."""
    caller = auth.principal()
    if given and caller is not None and caller.is_service and caller.subject == "service:gateway":
        return given.strip()[:64]
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    return rest.rsplit(":", 1)[0].strip("[]") if kind in ("ipv4", "ipv6") else peer[:64]


def _verification_caller() -> auth.Principal:
    """A signed-in person, or an API key of theirs with cameos:write (the Sora API's characters)."""
    caller = auth.require_user()
    if caller.kind == "apikey" and "cameos:write" not in caller.scopes:
        raise PermissionDenied("this API key lacks the 'cameos:write' scope", "insufficient_scope")
    if caller.kind not in ("user", "apikey"):
        raise PermissionDenied("this call needs a signed-in person", "user_required")
    return caller


def _user_caller() -> auth.Principal:
    caller = auth.require_user()
    if caller.kind != "user":
        raise PermissionDenied("this call needs a signed-in person, not an API key", "user_required")
    return caller


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self,
        ctx: ServiceContext,
        identity: Identity,
        verifications: Verifications,
        keyring: KeyRing,
        accounts: Accounts,
    ):
        self.ctx, self.identity, self.verifications, self.keyring = ctx, identity, verifications, keyring
        self.accounts = accounts
        self.faces = FaceMatcher(ctx.sessions)

    async def _run(self, fn, *args, changes: bool = True):
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            if changes:
                self.ctx.wake_relay()

    # Accounts and sessions.
    async def SignUp(self, request, context):
        issued = await self._run(self.identity.sign_up, request)
        return pb.SignUpResponse(user=issued.user, tokens=issued.tokens)

    async def SignIn(self, request, context):
        issued = await self._run(
            self.identity.sign_in,
            request.handle,
            request.password,
            _client_address(request.client_address, context),
            changes=False,
        )
        return pb.SignInResponse(user=issued.user, tokens=issued.tokens)

    async def RefreshTokens(self, request, context):
        pair = await self._run(
            self.identity.refresh,
            request.refresh_token,
            _client_address(request.client_address, context),
            changes=False,
        )
        return pb.RefreshTokensResponse(tokens=pair)

    async def SignOut(self, request, context):
        await self._run(
            self.identity.sign_out, auth.principal(), request.refresh_token, request.all_sessions, changes=False
        )
        return pb.SignOutResponse()

    async def ChangePassword(self, request, context):
        ended = await self._run(
            self.accounts.change_password, _user_caller(), request.current_password, request.new_password, changes=False
        )
        return pb.ChangePasswordResponse(sessions_ended=ended)

    async def DeleteAccount(self, request, context):
        reply = pb.DeleteAccountResponse()
        set_timestamp(reply.deleted_at, await self._run(self.accounts.delete_account, _user_caller(), request.password))
        return reply

    async def GetJwks(self, request, context):
        jwks = await self._run(self.keyring.jwks, changes=False)
        fields = ("kid", "kty", "alg", "use", "crv", "x", "y", "n", "e")
        return pb.GetJwksResponse(
            keys=[pb.Jwk(**{f: k[f] for f in fields if f in k}) for k in jwks["keys"]],
            max_age_seconds=self.identity.settings.jwks_max_age_s,
        )

    async def ListRevokedSessions(self, request, context):
        ids = await self._run(self.identity.revoked_sessions, changes=False)
        return pb.ListRevokedSessionsResponse(
            session_ids=[str(i) for i in ids], max_age_seconds=int(auth.REVOCATION_MAX_AGE_S)
        )

    # Profiles.
    async def GetUser(self, request, context):
        user = await self._run(self.identity.get_user, auth.require_user_or_service(), request.user_id, changes=False)
        return pb.GetUserResponse(user=user)

    async def GetUserByHandle(self, request, context):
        user = await self._run(
            self.identity.get_user_by_handle, auth.require_user_or_service(), request.handle, changes=False
        )
        return pb.GetUserByHandleResponse(user=user)

    async def BatchGetUsers(self, request, context):
        found = await self._run(
            self.identity.batch_get_users, auth.require_user_or_service(), list(request.user_ids), changes=False
        )
        return pb.BatchGetUsersResponse(users=found)

    async def UpdateProfile(self, request, context):
        return pb.UpdateProfileResponse(user=await self._run(self.identity.update_profile, _user_caller(), request))

    # Invites.
    async def CreateInvite(self, request, context):
        caller = auth.require_user_or_service()
        return pb.CreateInviteResponse(invite=await self._run(self.identity.create_invite, caller, changes=False))

    async def ListInvites(self, request, context):
        found, token = await self._run(self.identity.list_invites, _user_caller(), request.page, changes=False)
        return pb.ListInvitesResponse(invites=found, next_page_token=token)

    # API keys.
    async def CreateApiKey(self, request, context):
        key, secret = await self._run(self.identity.create_api_key, _user_caller(), request, changes=False)
        return pb.CreateApiKeyResponse(api_key=key, secret=secret)

    async def ListApiKeys(self, request, context):
        found, token = await self._run(self.identity.list_api_keys, _user_caller(), request.page, changes=False)
        return pb.ListApiKeysResponse(api_keys=found, next_page_token=token)

    async def RevokeApiKey(self, request, context):
        key = await self._run(self.identity.revoke_api_key, _user_caller(), request.api_key_id, changes=False)
        return pb.RevokeApiKeyResponse(api_key=key)

    async def SetApiKeyWebhook(self, request, context):
        hook = await self._run(
            self.identity.set_api_key_webhook, auth.require_user(), request.api_key_id, request.url, changes=False
        )
        return pb.SetApiKeyWebhookResponse(webhook=hook)

    async def GetApiKeyWebhook(self, request, context):
        caller = auth.require_user_or_service()
        if caller.is_service:
            auth.require_service("gateway")
        hook = await self._run(self.identity.get_api_key_webhook, caller, request.api_key_id, changes=False)
        return pb.GetApiKeyWebhookResponse(webhook=hook)

    async def DeleteApiKeyWebhook(self, request, context):
        deleted = await self._run(
            self.identity.delete_api_key_webhook, auth.require_user(), request.api_key_id, changes=False
        )
        return pb.DeleteApiKeyWebhookResponse(deleted=deleted)

    async def ExchangeApiKey(self, request, context):
        auth.require_service("gateway")
        return await self._run(self.identity.exchange_api_key, request.secret, changes=False)

    # Guardians and parental controls.
    async def StartGuardianLink(self, request, context):
        link, code, expires = await self._run(
            self.identity.start_guardian_link, _user_caller(), request.role, changes=False
        )
        reply = pb.StartGuardianLinkResponse(link=link, code=code)
        set_timestamp(reply.code_expires_at, expires)
        return reply

    async def ConfirmGuardianLink(self, request, context):
        link = await self._run(self.identity.confirm_guardian_link, _user_caller(), request.code)
        return pb.ConfirmGuardianLinkResponse(link=link)

    async def ApproveGuardianLink(self, request, context):
        return pb.ApproveGuardianLinkResponse(
            link=await self._run(self.identity.approve_guardian_link, _user_caller(), request.link_id)
        )

    async def UnlinkGuardian(self, request, context):
        caller = auth.require_user_or_service()
        if caller.is_service:
            auth.require_service("admin")  # support, through the operators' admin tools
        elif caller.kind != "user":
            raise PermissionDenied("this call needs a signed-in person, not an API key", "user_required")
        return pb.UnlinkGuardianResponse(
            link=await self._run(self.identity.unlink_guardian, caller, request.link_id, request.reason)
        )

    async def ListGuardianLinks(self, request, context):
        links = await self._run(self.identity.list_guardian_links, _user_caller(), changes=False)
        return pb.ListGuardianLinksResponse(links=links)

    async def SetParentalControls(self, request, context):
        controls = await self._run(
            self.identity.set_parental_controls, _user_caller(), request.teen_user_id, request.controls
        )
        return pb.SetParentalControlsResponse(controls=controls)

    async def GetParentalControls(self, request, context):
        controls = await self._run(
            self.identity.get_parental_controls, auth.require_user_or_service(), request.teen_user_id, changes=False
        )
        return pb.GetParentalControlsResponse(controls=controls)

    # Cameo verification.
    async def StartVerification(self, request, context):
        return pb.StartVerificationResponse(
            verification=await self._run(self.verifications.start, _verification_caller(), changes=False)
        )

    async def SubmitVerification(self, request, context):
        verification = await self._run(self.verifications.submit, _verification_caller(), request)
        return pb.SubmitVerificationResponse(verification=verification)

    async def GetVerification(self, request, context):
        verification = await self._run(
            self.verifications.get, auth.require_user_or_service(), request.verification_id, changes=False
        )
        return pb.GetVerificationResponse(verification=verification)

    # Face identity: the generator asks which verified people an input's faces belong to.
    async def MatchFaces(self, request, context):
        auth.require_service("generator")
        found = await self._run(self.faces.match, list(request.embeddings), changes=False)
        return pb.MatchFacesResponse(
            matches=[pb.FaceMatch(face_index=m.face_index, user_id=m.label, distance=m.distance) for m in found]
        )


@dataclass
class IdentityService:
    ctx: ServiceContext
    identity: Identity
    verifications: Verifications
    keyring: KeyRing

    @property
    def app(self) -> ServiceApp:
        return self.ctx.app


def assemble(settings: IdentitySettings, *, migrate_on_start: bool = True) -> IdentityService:
    keyring: KeyRing | None = None
    identity: Identity | None = None

    async def local_jwks() -> dict:
        # Identity verifies tokens with its own keys, read from its database.
        return await asyncio.to_thread(keyring.jwks)

    async def local_revoked() -> dict:
        return {"session_ids": await asyncio.to_thread(identity.revoked_sessions)}

    blobs = BlobStore(settings.blob_dir)
    ctx = create_service(
        "identity",
        settings,
        tables,
        MIGRATIONS,
        topics=TOPICS,
        subscription=by_event_type(handlers.consumed_events(blobs), CONSUMES),
        jwks_fetcher=local_jwks,
        revocation_fetcher=local_revoked,
        migrate_on_start=migrate_on_start,
    )
    try:
        keyring = KeyRing(make_store(settings, ctx.sessions))
    except ValueError as exc:
        ctx.engine.dispose()
        raise SettingsError([str(exc)]) from None
    # The verifier learns every key the moment this process starts signing with it.
    keyring.on_reload = ctx.verifier.load_jwks
    identity = Identity(ctx.sessions, tables, settings, keyring)
    verifications = Verifications(identity, blobs)
    ctx.app.add_servicer(
        identity_pb2_grpc.add_IdentityServiceServicer_to_server,
        IdentityServicer(ctx, identity, verifications, keyring, Accounts(identity, blobs)),
        pb.DESCRIPTOR.services_by_name["IdentityService"].full_name,
    )
    return IdentityService(ctx, identity, verifications, keyring)


async def build(settings: IdentitySettings) -> ServiceApp:
    return assemble(settings).app
