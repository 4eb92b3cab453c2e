"""The one client of cameo's consent check (CheckUse), shared by the services
that must ask before a likeness is used: the generator (purpose "generate")
and the feed (purpose "publish").

It returns a typed verdict with each cameo's decision and leaves the policy
(refuse, cancel, hide) to the caller. A cameo service that can't be reached
in time is `Unavailable` with the code "consent_unavailable": consent is
never assumed. Other failures come back as the domain error cameo raised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from kinora.cameo.v1 import cameo_pb2, cameo_pb2_grpc
from kinora.runtime.clients import TokenSource, channel
from kinora.runtime.errors import Unavailable, from_rpc_error

GENERATE = "generate"
PUBLISH = "publish"
_PURPOSES = {GENERATE: cameo_pb2.USE_PURPOSE_GENERATE, PUBLISH: cameo_pb2.USE_PURPOSE_PUBLISH}


@dataclass(frozen=True)
class CameoDecision:
    cameo_id: str
    allowed: bool
    reason: str  # DecisionReason name, e.g. "DECISION_REASON_NOT_PERMITTED"
    message: str  # cameo's sentence for a person ("" when allowed)


@dataclass(frozen=True)
class ConsentVerdict:
    decisions: tuple[CameoDecision, ...]
    all_allowed: bool

    @property
    def refused(self) -> list[CameoDecision]:
        return [d for d in self.decisions if not d.allowed]


class ConsentClient:
    """`token_source`: the service token for background work; without one a
    call forwards the token of the request being served (the real caller)."""

    def __init__(self, address: str, token_source: TokenSource | None = None, timeout_s: float = 10.0):
        self.address, self.timeout_s = address, timeout_s
        self.channel = channel(address, token_source)
        self.stub = cameo_pb2_grpc.CameoServiceStub(self.channel)

    async def check(self, requester_user_id: str, cameo_ids: Sequence[str], prompt: str, generation_id: str,
                    purpose: str = GENERATE) -> ConsentVerdict:
        if purpose not in _PURPOSES:
            raise ValueError(f"purpose must be one of {sorted(_PURPOSES)}, not {purpose!r}")
        request = cameo_pb2.CheckUseRequest(requester_user_id=requester_user_id, cameo_ids=list(cameo_ids),
                                            prompt=prompt, purpose=_PURPOSES[purpose], generation_id=generation_id)
        try:
            reply = await self.stub.CheckUse(request, timeout=self.timeout_s)
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Unavailable("can't reach the cameo service to check consent; try again shortly",
                                  "consent_unavailable") from None
            raise from_rpc_error(err) from None
        decisions = tuple(CameoDecision(d.cameo_id, d.allowed, cameo_pb2.DecisionReason.Name(d.reason), d.message)
                          for d in reply.decisions)
        return ConsentVerdict(decisions, reply.all_allowed)

    async def close(self) -> None:
        await self.channel.close(None)
