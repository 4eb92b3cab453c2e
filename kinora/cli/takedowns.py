"""`kinora admin takedowns list|approve ID|reject ID --reason`: the operators' takedown
queue, over gRPC as the stack's `admin` identity (like `kinora pools`)."""

from __future__ import annotations

import asyncio

import typer
from google.protobuf.json_format import MessageToDict

from kinora.cli.user import JSON, CliError, admin, emit, run
from kinora.stack.local import kinora_home


async def _call(method: str, request):
    import grpc

    from kinora.generator.v1 import generator_pb2_grpc
    from kinora.runtime.auth import mint_service_token
    from kinora.stack.local import configured_ports, operator_channel

    secret_file = kinora_home() / "internal_secret"
    if not secret_file.exists():
        raise CliError(f"no local stack secret at {secret_file} (start one with `kinora up`)")
    token = mint_service_token("admin", secret_file.read_text().strip())[0]
    address = f"127.0.0.1:{configured_ports()['generator']}"
    try:
        async with operator_channel(kinora_home(), address, aio=True) as ch:
            stub = generator_pb2_grpc.TakedownServiceStub(ch)
            return await getattr(stub, method)(request, metadata=[("authorization", f"Bearer {token}")], timeout=30)
    except grpc.RpcError as exc:
        raise CliError(exc.details() or exc.code().name) from None


def _as_dict(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True)


def _line(r) -> str:
    sent = ", ".join(
        x
        for x in (
            r.generation_id,
            r.link,
            f"{r.file_kind} file ({r.probe_frames} frames{', watermark' if r.has_watermark else ''})"
            if r.file_kind
            else "",
        )
        if x
    )
    age_h = 0.0
    if r.created_at.seconds:
        import time

        age_h = (time.time() - r.created_at.seconds) / 3600
    kind = {1: "likeness", 2: "intimate"}.get(r.kind, "?")
    done = f", removed {len(r.targets)} clip(s) in {r.removal_seconds:.0f} s" if r.status == "completed" else ""
    return f"{r.id}  {r.status:9s} {kind:8s} {age_h:5.1f} h old  {r.contact}  sent: {sent}{done}"


def register(app: typer.Typer) -> None:
    """Adds `kinora admin takedowns ...` (the admin group is added to `app` by kinora.cli.user)."""
    takedowns = typer.Typer(help="takedown requests from anyone (decide within 48 hours)")
    admin.add_typer(takedowns, name="takedowns")

    @takedowns.command("list")
    def list_(
        status: str = typer.Option("pending", help="pending, approved, rejected, completed, or all"),
        json_out: bool = JSON,
    ):
        """The queue, oldest first (the 48-hour clock runs from the request)."""
        from kinora.generator.v1 import generator_pb2 as pb

        def go():
            reply = asyncio.run(
                _call(
                    "ListTakedownRequests",
                    pb.ListTakedownRequestsRequest(status="" if status == "all" else status, page_size=200),
                )
            )
            emit(
                [_as_dict(r) for r in reply.requests],
                json_out,
                "\n".join(_line(r) + f"\n    statement: {r.statement[:200]}" for r in reply.requests)
                or f"no {status} takedown requests",
            )

        run(go)

    @takedowns.command("approve")
    def approve(request_id: str, json_out: bool = JSON):
        """Remove the clip, its copies, remixes and clips made from its frames; block its frames."""
        from kinora.generator.v1 import generator_pb2 as pb

        def go():
            reply = asyncio.run(_call("ApproveTakedownRequest", pb.ApproveTakedownRequestRequest(id=request_id)))
            r = reply.request
            lines = [
                f"{r.id} {r.status}: {len(r.targets)} clip(s) removed, {r.removal_seconds:.1f} s after the request"
            ]
            lines += [f"  {t.generation_id}  {t.why}{f' of {t.via}' if t.via else ''}" for t in r.targets]
            emit(_as_dict(reply), json_out, "\n".join(lines))

        run(go)

    @takedowns.command("reject")
    def reject(
        request_id: str, reason: str = typer.Option(..., help="why (the requester is told)"), json_out: bool = JSON
    ):
        """Decline a request, saying why."""
        from kinora.generator.v1 import generator_pb2 as pb

        def go():
            reply = asyncio.run(
                _call("RejectTakedownRequest", pb.RejectTakedownRequestRequest(id=request_id, reason=reason))
            )
            emit(_as_dict(reply), json_out, f"{reply.request.id} rejected: {reply.request.decision_reason}")

        run(go)
