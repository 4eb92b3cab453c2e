"""A probe for issue 25 part 3, option (b): CheckUse on the synchronous gRPC
server (a thread pool, no asyncio), for cameo_bench.py's `sync` mode to
measure beside the grpc.aio service. Not a service: it serves CheckUse only,
with the least per-call work that is still correct (service token checked,
input validated, the same one-statement read as the service's fast path, the
same reply) and none of the runtime interceptor's (metrics, spans, NUL check),
so its CPU per check is a floor for what (b) could reach.

    KINORA_DATABASE_URL=... KINORA_INTERNAL_SECRET=... python benchmarks/cameo_sync_server.py PORT
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinora.cameo.v1 import cameo_pb2 as pb  # noqa: E402
from kinora.runtime import auth  # noqa: E402
from kinora.runtime.errors import KinoraError  # noqa: E402
from services.cameo.consent import ConsentChecker  # noqa: E402
from services.cameo.fastpath import PgConsentReader  # noqa: E402

METHOD = "/kinora.cameo.v1.CameoService/CheckUse"


def main(port: int) -> None:
    async def no_keys():
        return {"keys": []}

    verifier = auth.TokenVerifier(no_keys, internal_secret=os.environ["KINORA_INTERNAL_SECRET"])
    reader = PgConsentReader(os.environ["KINORA_DATABASE_URL"])

    def check_use(request: pb.CheckUseRequest, context: grpc.ServicerContext) -> pb.CheckUseResponse:
        token = auth.bearer_token(context.invocation_metadata())
        try:
            caller = token and (verifier.verify_cached(token) or verifier.verify_with_keys(token))
            if not caller or not caller.is_service:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "a service token is needed")
            requester, ids = ConsentChecker.validate(request.requester_user_id, list(request.cameo_ids), request.prompt)
        except KinoraError as err:
            context.abort(err.status, err.message)
        ((decisions, texts),) = reader.read_many([(requester, ids)])
        if texts:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this probe does not match restrictions")
        reply = pb.CheckUseResponse(all_allowed=all(d.allowed for d in decisions))
        for d in decisions:
            reply.decisions.add(
                cameo_id=d.cameo_id,
                allowed=d.allowed,
                reason=d.reason,
                message=d.message,
                revision=d.revision,
                owner_user_id=d.owner_user_id,
            )
        return reply

    handler = grpc.method_handlers_generic_handler(
        "kinora.cameo.v1.CameoService",
        {
            "CheckUse": grpc.unary_unary_rpc_method_handler(
                check_use,
                request_deserializer=pb.CheckUseRequest.FromString,
                response_serializer=pb.CheckUseResponse.SerializeToString,
            )
        },
    )
    server = grpc.server(ThreadPoolExecutor(8), handlers=[handler])
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(1).wait()
    reader.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
