"""The one client of cameo's consent check (CheckUse), shared by the services
that must ask before a likeness is used: the generator (purpose "generate")
and the feed (purpose "publish").

It returns a typed verdict with each cameo's decision and leaves the policy
(refuse, cancel, hide) to the caller. A cameo service that can't be reached
in time is `Unavailable` with the code "consent_unavailable": consent is
never assumed. Other failures come back as the domain error cameo raised."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from kinora.cameo.v1 import cameo_pb2, cameo_pb2_grpc
from kinora.runtime import auth
from kinora.runtime.clients import TokenSource, channel
from kinora.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    KinoraError,
    NotFound,
    PermissionDenied,
    Unavailable,
    from_rpc_error,
)

GENERATE = "generate"
PUBLISH = "publish"
PACE_S = 0.003  # see ConsentClient
_PURPOSES = {GENERATE: cameo_pb2.USE_PURPOSE_GENERATE, PUBLISH: cameo_pb2.USE_PURPOSE_PUBLISH}


@dataclass(frozen=True)
class CameoDecision:
    cameo_id: str
    allowed: bool
    reason: str  # DecisionReason name, e.g. "DECISION_REASON_NOT_PERMITTED"
    message: str  # cameo's sentence for a person ("" when allowed)
    revision: int = 0  # the cameo's consent revision the decision was made at


@dataclass(frozen=True)
class ConsentVerdict:
    decisions: tuple[CameoDecision, ...]
    all_allowed: bool

    @property
    def refused(self) -> list[CameoDecision]:
        return [d for d in self.decisions if not d.allowed]


@dataclass
class _Queue:
    """Checks made with one credential that wait for a call slot."""

    running: int = 0
    pending: list[tuple[cameo_pb2.CheckUseRequest, asyncio.Future[cameo_pb2.CheckUseResponse], contextvars.Context]] = (
        field(default_factory=list)
    )
    busy: bool = False  # the last call came back with checks waiting: they arrive faster than calls return
    last_start: float = 0.0  # loop time the last call went out
    timer: asyncio.TimerHandle | None = None  # wakes the queue when its pace allows the next call


class ConsentClient:
    """`token_source`: the service token for background work; without one a
    call forwards the token of the request being served (the real caller).

    Checks made at the same time share calls: at most `in_flight` calls per
    credential are on the wire, each check goes out at once as a CheckUse when
    a slot is free, and checks made while none is wait for the next free slot
    and go together as one BatchCheckUse (up to `max_batch`). A busy caller (a
    generator starting many jobs, a feed publishing many posts) thus pays
    gRPC's per-call CPU once per batch, on both sides; an idle one sees no
    change. Every check is still answered by a read that starts after the
    check was made (cameo reads once a call arrives), so a withdrawal
    acknowledged before `check` was called is always seen.

    One slot (the default) measured best: at 1,000 checks/s from one client,
    cameo's CPU per check 0.33 ms with one slot (about 3-4 checks a call),
    0.48 ms with two, 0.69 ms one call per check (benchmarks/cameo_bench.py
    --modes check client1 client2, same run, a loaded machine).

    On a quiet machine calls come back sooner, fewer checks wait for each,
    and cameo's CPU per check rose to 0.53 ms. So while checks keep arriving
    faster than calls return (the last call came back with checks waiting),
    calls go at most one per `pace_s` and the checks made meanwhile join the
    next: 0.29-0.41 ms a check at a 3 ms pace, median 0.36 (0.36-0.50 at 2
    ms, 0.52 with none), for about 1 ms more at p99 (cameo_bench.py --modes
    client-p0 client-p2 client-p3, BENCHMARKS.md). A check waits at most for
    the call in flight and the rest of the pace; a caller making one check at
    a time never waits for the pace."""

    def __init__(
        self,
        address: str,
        token_source: TokenSource | None = None,
        timeout_s: float = 10.0,
        in_flight: int = 1,
        max_batch: int = 64,
        pace_s: float = PACE_S,
    ):
        if in_flight < 1 or not 1 <= max_batch <= 64 or not 0 <= pace_s <= 1:
            raise ValueError("in_flight must be at least 1, max_batch between 1 and 64, pace_s between 0 and 1 s")
        self.address, self.timeout_s = address, timeout_s
        self.in_flight, self.max_batch, self.pace_s = in_flight, max_batch, pace_s
        self.token_source = token_source
        self.channel = channel(address, token_source)
        self.stub = cameo_pb2_grpc.CameoServiceStub(self.channel)
        self._queues: dict[str, _Queue] = {}
        self.calls = self.batched_checks = 0  # BatchCheckUse calls made, and the checks they carried
        self.checks = 0  # checks made (those not batched went alone, one CheckUse each)
        self.paced = 0  # times the next call waited for the pace

    async def check(
        self, requester_user_id: str, cameo_ids: Sequence[str], prompt: str, generation_id: str, purpose: str = GENERATE
    ) -> ConsentVerdict:
        if purpose not in _PURPOSES:
            raise ValueError(f"purpose must be one of {sorted(_PURPOSES)}, not {purpose!r}")
        request = cameo_pb2.CheckUseRequest(
            requester_user_id=requester_user_id,
            cameo_ids=list(cameo_ids),
            prompt=prompt,
            purpose=_PURPOSES[purpose],
            generation_id=generation_id,
        )
        self.checks += 1
        queue = self._queue()
        if queue.running < self.in_flight and not queue.pending and self._wait(queue) <= 0:
            queue.running += 1  # a free slot: this check goes now, on its own
            queue.last_start = asyncio.get_running_loop().time()
            try:
                reply = await self._call_one(request)
            finally:
                self._returned(queue)
        else:
            future: asyncio.Future[cameo_pb2.CheckUseResponse] = asyncio.get_running_loop().create_future()
            queue.pending.append((request, future, contextvars.copy_context()))
            self._drain(queue)
            reply = await future
        decisions = tuple(
            CameoDecision(d.cameo_id, d.allowed, cameo_pb2.DecisionReason.Name(d.reason), d.message, d.revision)
            for d in reply.decisions
        )
        return ConsentVerdict(decisions, reply.all_allowed)

    def _queue(self) -> _Queue:
        """Checks share calls only when the calls carry the same credential."""
        if self.token_source is not None:
            key = ""
        else:
            caller = auth.principal()
            key = caller.token if caller else ""
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        return queue

    def _wait(self, queue: _Queue) -> float:
        """Seconds before the queue's next call may go: none unless checks have been
        arriving faster than calls return, then at most one call per `pace_s`."""
        return queue.last_start + self.pace_s - asyncio.get_running_loop().time() if queue.busy else 0.0

    def _returned(self, queue: _Queue) -> None:
        queue.running -= 1
        queue.busy = bool(queue.pending)
        self._drain(queue)

    def _wake(self, queue: _Queue) -> None:
        queue.timer = None
        self._drain(queue)

    def _drain(self, queue: _Queue) -> None:
        loop = asyncio.get_running_loop()
        while queue.pending and queue.running < self.in_flight and queue.timer is None:
            wait = self._wait(queue)
            if wait > 0:  # the checks made meanwhile join this batch
                queue.timer = loop.call_later(wait, self._wake, queue)
                self.paced += 1
                break
            batch, queue.pending = queue.pending[: self.max_batch], queue.pending[self.max_batch :]
            queue.running += 1
            queue.last_start = loop.time()
            # In the first check's context: its caller's token and trace go with the call.
            loop.create_task(self._send(queue, batch), context=batch[0][2])
        if not queue.pending and not queue.running and queue.timer is None:
            self._queues = {k: q for k, q in self._queues.items() if q is not queue}

    async def _send(
        self,
        queue: _Queue,
        batch: list[tuple[cameo_pb2.CheckUseRequest, asyncio.Future[cameo_pb2.CheckUseResponse], contextvars.Context]],
    ) -> None:
        replies: list[cameo_pb2.CheckUseResponse | KinoraError] = []
        try:
            batch = [item for item in batch if not item[1].done()]  # callers that went away
            if len(batch) == 1:
                replies = [await self._call_one(batch[0][0])]
            elif batch:
                replies = await self._call_batch([request for request, _, _ in batch])
        except KinoraError as err:
            replies = [err] * len(batch)
        finally:
            self._returned(queue)
            # Whatever happened (even this task cancelled), no check is left waiting.
            replies += [Unavailable("the consent check was interrupted; try again", "consent_unavailable")] * (
                len(batch) - len(replies)
            )
            for (_, future, _), reply in zip(batch, replies):
                if future.done():
                    continue
                if isinstance(reply, KinoraError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    async def _call_one(self, request: cameo_pb2.CheckUseRequest) -> cameo_pb2.CheckUseResponse:
        try:
            reply: cameo_pb2.CheckUseResponse = await self.stub.CheckUse(request, timeout=self.timeout_s)
            return reply
        except grpc.RpcError as err:
            raise _domain_error(err) from None

    async def _call_batch(
        self, requests: list[cameo_pb2.CheckUseRequest]
    ) -> list[cameo_pb2.CheckUseResponse | KinoraError]:
        try:
            reply = await self.stub.BatchCheckUse(
                cameo_pb2.BatchCheckUseRequest(checks=requests), timeout=self.timeout_s
            )
        except grpc.RpcError as err:
            raise _domain_error(err) from None
        self.calls += 1
        self.batched_checks += len(requests)
        return [
            r.response
            if r.HasField("response")
            else _BY_STATUS.get(r.status, KinoraError)(r.error.message, r.error.code)
            for r in reply.results
        ]

    async def close(self) -> None:
        """Checks still waiting for a call (or for the pace) are answered `Unavailable`."""
        for queue in self._queues.values():
            if queue.timer is not None:
                queue.timer.cancel()
                queue.timer = None
            waiting, queue.pending = queue.pending, []
            for _, future, _ in waiting:
                if not future.done():
                    future.set_exception(Unavailable("the consent client was closed; try again", "consent_unavailable"))
        self._queues.clear()
        await self.channel.close(None)


_BY_STATUS = {cls.status.value[0]: cls for cls in (InvalidArgument, PermissionDenied, NotFound, FailedPrecondition)}


def _domain_error(err: grpc.RpcError) -> KinoraError:
    if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable("can't reach the cameo service to check consent; try again shortly", "consent_unavailable")
    return from_rpc_error(err)
