"""gRPC implementations of the domain's `Billing` and `ConsentChecker`.

Both are called with a service token (generator acts for the user named in
the request), so the same objects serve the API and background workers."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path

import grpc

from kinora.billing.v1 import billing_pb2, billing_pb2_grpc
from kinora.cameo.v1 import cameo_pb2, cameo_pb2_grpc
from kinora.consent import GENERATE, ConsentClient
from kinora.feed.v1 import feed_pb2, feed_pb2_grpc
from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.models.contract import Cameo, VoiceProfile
from kinora.runtime.clients import TokenSource, channel
from kinora.runtime.convert import datetime_or_none
from kinora.runtime.errors import PermissionDenied, Unavailable, from_rpc_error
from services.generator.domain import Reservation
from services.generator.likeness import unnamed_refusal

TIMEOUT_S = 10.0


def _raise(err: grpc.RpcError, what: str):
    if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        raise Unavailable(f"{what} is not reachable right now; try again shortly", f"{what}_unavailable") from None
    raise from_rpc_error(err) from None


log = logging.getLogger("kinora.generator.remote")


def _expiry(reservation) -> datetime | None:
    return datetime_or_none(reservation, "expires_at")


class GrpcBilling:
    def __init__(self, address: str, token_source: TokenSource | None):
        self.stub = billing_pb2_grpc.BillingServiceStub(channel(address, token_source))

    async def reserve(self, generation_id, user_id, model, seconds, size, quote_id="") -> Reservation:
        try:
            reply = await self.stub.Reserve(
                billing_pb2.ReserveRequest(
                    generation_id=generation_id,
                    user_id=user_id,
                    model=model,
                    seconds=seconds,
                    size=size,
                    quote_id=quote_id,
                ),
                timeout=TIMEOUT_S,
            )
        except grpc.RpcError as err:
            _raise(err, "billing")
        return Reservation(reply.reservation.id, reply.reservation.tier, _expiry(reply.reservation))

    async def extend(self, generation_id: str) -> datetime | None:
        try:
            reply = await self.stub.ExtendReservation(
                billing_pb2.ExtendReservationRequest(generation_id=generation_id), timeout=TIMEOUT_S
            )
        except grpc.RpcError as err:
            _raise(err, "billing")
        return _expiry(reply.reservation)

    async def capture(self, generation_id: str) -> None:
        try:
            await self.stub.Capture(billing_pb2.CaptureRequest(generation_id=generation_id), timeout=TIMEOUT_S)
        except grpc.RpcError as err:
            _raise(err, "billing")

    async def release(self, generation_id: str, reason: str) -> None:
        try:
            await self.stub.Release(
                billing_pb2.ReleaseRequest(generation_id=generation_id, reason=reason), timeout=TIMEOUT_S
            )
        except grpc.RpcError as err:
            _raise(err, "billing")


class LikenessFiles:
    """Reads the likeness assets identity stored at verification (face crops,
    voice profile) from the blob folder it writes, mounted read-only here.
    A missing or altered object (checked against its SHA-256) reads as None."""

    def __init__(self, root: str | None):
        self.root = Path(root).resolve() if root else None

    def read(self, ref) -> bytes | None:
        if self.root is None or not ref.key:
            return None
        path = (self.root / ref.key).resolve()
        if self.root not in path.parents:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if ref.sha256 and hashlib.sha256(data).hexdigest() != ref.sha256:
            log.warning("likeness object %s does not match its checksum; not used", ref.key)
            return None
        return data

    def voice(self, ref) -> VoiceProfile | None:
        raw = self.read(ref)
        if raw is None:
            return None
        try:
            profile = json.loads(raw)
            return VoiceProfile(
                pitch_hz=float(profile["pitch_hz_median"]),
                envelope=[float(x) for x in profile.get("mel_envelope_db", [])],
            )
        except (ValueError, KeyError, TypeError):
            log.warning("voice profile %s is not readable; not used", ref.key)
            return None


class GrpcConsentChecker:
    """The domain's ConsentChecker: cameo's verdict (kinora.consent) turned
    into the generator's refusal, plus the cameos' likeness for the model."""

    def __init__(self, address: str, token_source: TokenSource | None, likeness_dir: str | None = None):
        self.likeness = LikenessFiles(likeness_dir)
        self.client = ConsentClient(address, token_source, timeout_s=TIMEOUT_S)
        self.stub = self.client.stub

    async def check(
        self,
        requester_user_id: str,
        cameo_ids: list[str],
        prompt: str,
        generation_id: str,
        unnamed: frozenset[str] = frozenset(),
    ) -> None:
        verdict = await self.client.check(requester_user_id, cameo_ids, prompt, generation_id, GENERATE)
        if not verdict.all_allowed:
            refused = verdict.refused
            reasons = "; ".join(
                unnamed_refusal(d.reason)
                if d.cameo_id in unnamed
                else d.message or f"cameo {d.cameo_id} may not be used"
                for d in refused
            )
            code = "likeness_consent_denied" if any(d.cameo_id in unnamed for d in refused) else "consent_denied"
            raise PermissionDenied(reasons, code)

    async def describe(self, cameo_ids: list[str]) -> list[Cameo]:
        """The cameos as the model should see them: a name (display name, else
        handle), the face crops and the voice profile from verification; for a
        character (an animal, object or drawing), its description and the
        reference images cameo keeps (it has no voice)."""
        cameos = []
        for cameo_id in cameo_ids:
            try:
                reply = await self.stub.GetLikeness(cameo_pb2.GetLikenessRequest(cameo_id=cameo_id), timeout=TIMEOUT_S)
            except grpc.RpcError as err:
                _raise(err, "cameo")
            name = reply.display_name or reply.owner_handle or cameo_id
            if reply.kind == cameo_pb2.CAMEO_KIND_CHARACTER:
                cameos.append(
                    Cameo(
                        name=name, face_pngs=list(reply.reference_pngs), kind="character", description=reply.description
                    )
                )
                continue
            faces = [data for data in map(self.likeness.read, reply.likeness.face_crops) if data]
            cameos.append(Cameo(name=name, face_pngs=faces, voice=self.likeness.voice(reply.likeness.voice_profile)))
        return cameos


class GrpcFaceDirectory:
    """Whose faces these are: identity matches the embeddings against the
    enrolled faces of verified people, cameo names each person's cameo."""

    def __init__(self, identity_address: str, cameo_address: str | None, token_source: TokenSource | None):
        self.identity = identity_pb2_grpc.IdentityServiceStub(channel(identity_address, token_source))
        self.cameo = cameo_pb2_grpc.CameoServiceStub(channel(cameo_address, token_source)) if cameo_address else None

    async def owners(self, embeddings: list[bytes]) -> dict[int, str]:
        try:
            reply = await self.identity.MatchFaces(
                identity_pb2.MatchFacesRequest(embeddings=embeddings), timeout=TIMEOUT_S
            )
        except grpc.RpcError as err:
            _raise(err, "identity")
        return {m.face_index: m.user_id for m in reply.matches}

    async def cameo_of(self, user_id: str) -> str | None:
        if self.cameo is None:
            return None
        try:
            reply = await self.cameo.GetCameo(cameo_pb2.GetCameoRequest(owner_user_id=user_id), timeout=TIMEOUT_S)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            _raise(err, "cameo")
        return reply.cameo.id


class GrpcFeedVisibility:
    def __init__(self, address: str, token_source: TokenSource | None):
        self.stub = feed_pb2_grpc.FeedServiceStub(channel(address, token_source))

    async def can_view(self, user_id: str, generation_id: str) -> bool:
        try:
            reply = await self.stub.CanViewGeneration(
                feed_pb2.CanViewGenerationRequest(viewer_user_id=user_id, generation_id=generation_id),
                timeout=TIMEOUT_S,
            )
        except grpc.RpcError as err:
            _raise(err, "feed")
        return reply.visible
