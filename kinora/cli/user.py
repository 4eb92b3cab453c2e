"""User and ops commands of the `kinora` CLI. They talk to the gateway over
HTTP as the signed-in user of the chosen profile ($KINORA_HOME/profiles/NAME.json);
`admin invite` and `pools` use gRPC with the local stack's internal secret."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from kinora.stack.local import kinora_home

err = Console(stderr=True)
state = {"profile": "default"}


class CliError(Exception):
    pass


def _profile_path() -> Path:
    return kinora_home() / "profiles" / f"{state['profile']}.json"


def _session() -> dict:
    path = _profile_path()
    return json.loads(path.read_text()) if path.exists() else {}


def _save(session: dict) -> None:
    path = _profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(session, indent=2))
    path.chmod(0o600)


def gateway_url() -> str:
    if os.environ.get("KINORA_GATEWAY_URL"):
        return os.environ["KINORA_GATEWAY_URL"].rstrip("/")
    stack = kinora_home() / "stack.json"
    if stack.exists() and json.loads(stack.read_text()).get("gateway_url"):
        return json.loads(stack.read_text())["gateway_url"]
    return "http://127.0.0.1:8080"


def call(method: str, path: str, *, auth: bool = True, **kw) -> dict:
    headers = kw.pop("headers", {})
    session = _session()
    if auth:
        if not session.get("access_token"):
            raise CliError(f"not signed in on profile '{state['profile']}' (run `kinora login`)")
        headers["Authorization"] = f"Bearer {session['access_token']}"
    try:
        with httpx.Client(base_url=gateway_url(), timeout=300) as client:
            reply = client.request(method, path, headers=headers, **kw)
            if reply.status_code == 401 and auth and session.get("refresh_token"):
                fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
                if fresh.status_code == 200:
                    tokens = fresh.json()["tokens"]
                    session.update(access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])
                    _save(session)
                    headers["Authorization"] = f"Bearer {tokens['access_token']}"
                    reply = client.request(method, path, headers=headers, **kw)
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the gateway at {gateway_url()} ({type(exc).__name__}); is `kinora up` running?"
        ) from exc
    if reply.status_code >= 400:
        try:
            raise CliError(reply.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            raise CliError(f"HTTP {reply.status_code}: {reply.text[:200]}") from None
    if reply.headers.get("content-type", "").startswith("application/json"):
        return reply.json()
    return {"bytes": reply.content}


def emit(data, json_out: bool, human: str) -> None:
    if json_out:
        print(json.dumps(data))
    else:
        print(human)


def run(fn):
    """Errors print one readable line and exit non-zero."""
    try:
        return fn()
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


JSON = typer.Option(False, "--json", help="print one JSON document")


def _store_tokens(reply: dict) -> None:
    _save(
        {
            "handle": reply["user"]["handle"],
            "user_id": reply["user"]["id"],
            "access_token": reply["tokens"]["access_token"],
            "refresh_token": reply["tokens"]["refresh_token"],
        }
    )


# Operator commands; other modules (kinora.cli.takedowns) add their groups to it.
admin = typer.Typer(help="operator commands on the local stack")


def register(app: typer.Typer) -> None:
    @app.callback()
    def main(profile: str = typer.Option("default", "--profile", help="which signed-in user to act as")):
        state["profile"] = profile

    app.add_typer(admin, name="admin")  # kinora.cli.takedowns adds its group to it

    @admin.command("invite")
    def admin_invite(json_out: bool = JSON):
        """Print a fresh invite code (local stack)."""

        def go():
            import asyncio

            code = asyncio.run(_service_call("identity", "CreateInvite")).invite.code
            emit({"invite_code": code}, json_out, code)

        run(go)

    @app.command()
    def signup(
        invite: str = typer.Option(...),
        handle: str = typer.Option(...),
        password: str = typer.Option(...),
        birthdate: str = typer.Option(..., help="YYYY-MM-DD"),
        region: str = typer.Option("US"),
        json_out: bool = JSON,
    ):
        """Create an account with an invite and sign in."""

        def go():
            reply = call(
                "POST",
                "/api/v1/auth/signup",
                auth=False,
                json={
                    "invite_code": invite,
                    "handle": handle,
                    "password": password,
                    "birthdate": birthdate,
                    "region": region,
                },
            )
            _store_tokens(reply)
            emit(reply["user"], json_out, f"welcome, @{reply['user']['handle']}")

        run(go)

    @app.command()
    def login(handle: str = typer.Option(...), password: str = typer.Option(...), json_out: bool = JSON):
        """Sign in."""

        def go():
            reply = call("POST", "/api/v1/auth/signin", auth=False, json={"handle": handle, "password": password})
            _store_tokens(reply)
            emit(reply["user"], json_out, f"signed in as @{reply['user']['handle']}")

        run(go)

    apikey = typer.Typer(help="developer API keys")
    app.add_typer(apikey, name="apikey")

    @apikey.command("create")
    def apikey_create(name: str = typer.Option("cli"), json_out: bool = JSON):
        """Create an API key for the Sora-compatible /v1/videos API (printed once)."""
        run(lambda: (lambda r: emit(r, json_out, r["secret"]))(call("POST", "/api/v1/apikeys", json={"name": name})))

    cameo = typer.Typer(help="your cameo and who may use it")
    app.add_typer(cameo, name="cameo")

    @cameo.command("verify")
    def cameo_verify(
        video: Path = typer.Option(None, help="the recording answering the challenge"),
        verification: str = typer.Option("", help="id of a challenge already shown"),
        nonce: str = typer.Option("", help="the nonce shown with that challenge"),
        json_out: bool = JSON,
    ):
        """Show a liveness challenge; with --video, submit the recording."""

        def go():
            ver_id, ver_nonce = verification, nonce
            if ver_id and not ver_nonce:
                raise CliError("--verification needs the --nonce shown with its challenge")
            if not ver_id:
                started = call("POST", "/api/v1/cameo/verifications")["verification"]
                ver_id = started["id"]
                ch = started["challenge"]
                ver_nonce = ch.get("nonce", "")
                if not video or not json_out:
                    err.print(
                        f"read aloud: [bold]{ch['digits']}[/bold]; turn your head: "
                        f"{', '.join(t.removeprefix('HEAD_TURN_').lower() for t in ch.get('head_turns', []))}"
                        f"  (--verification {ver_id} --nonce {ver_nonce})"
                    )
                if not video:
                    emit(started, json_out, ver_id)
                    return
            if not video.exists():
                raise CliError(f"{video} does not exist")
            result = call(
                "POST",
                f"/api/v1/cameo/verifications/{ver_id}/video",
                data={"nonce": ver_nonce},
                files={"video": (video.name, video.read_bytes(), "video/mp4")},
            )["verification"]
            failed = [c["reason"] for c in result.get("checks", []) if c.get("evaluated") and not c.get("passed")]
            if result["status"] != "VERIFICATION_STATUS_PASSED":
                raise CliError("verification failed: " + ("; ".join(failed) or result["status"]))
            emit(result, json_out, "cameo verified")

        run(go)

    @cameo.command("policy")
    def cameo_policy(
        policy: str = typer.Argument(..., help="only_me|approved|mutuals|everyone"), json_out: bool = JSON
    ):
        """Who may use your cameo."""
        run(
            lambda: emit(
                call("PUT", "/api/v1/cameo/policy", json={"policy": policy}), json_out, f"cameo policy: {policy}"
            )
        )

    @cameo.command("approve")
    def cameo_approve(handle: str, json_out: bool = JSON):
        run(
            lambda: emit(
                call("POST", "/api/v1/cameo/approvals", json={"handle": handle}),
                json_out,
                f"@{handle.lstrip('@')} may use your cameo",
            )
        )

    @cameo.command("revoke")
    def cameo_revoke(
        handle: str, keep_videos: bool = typer.Option(False, help="don't take their videos down"), json_out: bool = JSON
    ):
        def go():
            r = call("POST", "/api/v1/cameo/revocations", json={"handle": handle, "takedown": not keep_videos})
            emit(
                r,
                json_out,
                f"@{handle.lstrip('@')} can no longer use your cameo; {r.get('takedown_count', 0)} video(s) taken down",
            )

        run(go)

    @app.command()
    def generate(
        prompt: str,
        out: Path = typer.Option(..., "--out", help="where to save the MP4"),
        image: Path = typer.Option(None, help="an image to animate"),
        cameo: list[str] = typer.Option([], "--cameo", help="handle of a person in the clip"),
        seconds: int = typer.Option(10),
        size: str = typer.Option("720x1280"),
        model: str = typer.Option("standard"),
        json_out: bool = JSON,
    ):
        """Generate a clip with a live progress bar, then download it."""
        run(lambda: _generate(prompt, out, image, cameo, seconds, size, model, json_out))

    @app.command()
    def feed(json_out: bool = JSON):
        """Your feed."""

        def go():
            r = call("GET", "/api/v1/feed")
            lines = [
                f"@{i['post'].get('author_handle', '?')}: {i['post'].get('caption', '')}  ({i.get('reason', '')})"
                for i in r.get("items", [])
            ]
            emit(r, json_out, "\n".join(lines) or "(nothing yet)")

        run(go)

    @app.command()
    def publish(generation_id: str, caption: str = typer.Option(""), json_out: bool = JSON):
        run(
            lambda: (lambda r: emit(r, json_out, f"published post {r['post']['id']}"))(
                call("POST", "/api/v1/posts", json={"generation_id": generation_id, "caption": caption})
            )
        )

    credits = typer.Typer(help="credits")
    app.add_typer(credits, name="credits")

    @credits.command("buy")
    def credits_buy(pack: str, payment_token: str = typer.Option("tok_test_succeed"), json_out: bool = JSON):
        def go():
            r = call("POST", "/api/v1/billing/purchases", json={"pack_id": pack, "payment_token": payment_token})
            emit(r, json_out, f"bought {r['purchase']['credits']} credits; balance {r['balance'].get('credits', 0)}")

        run(go)

    @app.command()
    def pools(json_out: bool = JSON):
        """Queue depth and wait per GPU pool (local stack)."""

        def go():
            import asyncio

            from google.protobuf.json_format import MessageToDict

            reply = asyncio.run(_service_call("pools", "ListPools"))
            data = MessageToDict(reply, preserving_proto_field_name=True)
            lines = []
            for p in reply.pools:
                queues = ", ".join(f"{q.tier}:{q.depth} (oldest {q.oldest_wait_seconds:.0f}s)" for q in p.queues)
                lines.append(f"{p.name}: {p.jobs_running} running; queues {queues or 'empty'}")
            emit(data, json_out, "\n".join(lines) or "no pools")

        run(go)


def _generate(prompt, out, image, cameos, seconds, size, model, json_out):
    body = {"prompt": prompt, "seconds": str(seconds), "size": size, "model": model}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if image:
        if not image.exists():
            raise CliError(f"{image} does not exist")
        files = [("image", (image.name, image.read_bytes(), "application/octet-stream"))]
        data = {**body, "cameos": cameos}
        gen = call("POST", "/api/v1/generations", data=data, files=files, headers=headers)["generation"]
    else:
        gen = call("POST", "/api/v1/generations", json={**body, "seconds": seconds, "cameos": cameos}, headers=headers)[
            "generation"
        ]
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        console=err,
        disable=json_out,
    ) as bar:
        task = bar.add_task("queued", total=100)
        while gen["status"] not in (
            "GENERATION_STATUS_COMPLETED",
            "GENERATION_STATUS_FAILED",
            "GENERATION_STATUS_CANCELED",
        ):
            time.sleep(0.5)
            gen = call("GET", f"/api/v1/generations/{gen['id']}")["generation"]
            bar.update(task, completed=gen.get("progress", 0), description=gen.get("stage", "working"))
    if gen["status"] != "GENERATION_STATUS_COMPLETED":
        raise CliError(f"generation {gen['id']} did not complete: {gen.get('error', {}).get('message', gen['status'])}")
    content = call("GET", f"/api/v1/generations/{gen['id']}/content")["bytes"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    emit(gen, json_out, f"saved {out} ({len(content)} bytes, generation {gen['id']})")


async def _service_call(service: str, method: str):
    """Internal gRPC as the operator: a service token minted from the local stack's secret,
    over mutual TLS with the stack's `admin` certificate."""
    import grpc

    from kinora.generator.v1 import generator_pb2, generator_pb2_grpc
    from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
    from kinora.runtime.auth import mint_service_token
    from kinora.stack.local import configured_ports, operator_channel

    secret_file = kinora_home() / "internal_secret"
    if not secret_file.exists():
        raise CliError(f"no local stack secret at {secret_file} (start one with `kinora up`)")
    token = mint_service_token("admin", secret_file.read_text().strip())[0]
    ports = configured_ports()
    md = [("authorization", f"Bearer {token}")]
    try:
        if service == "identity":
            async with operator_channel(kinora_home(), f"127.0.0.1:{ports['identity']}", aio=True) as ch:
                return await identity_pb2_grpc.IdentityServiceStub(ch).CreateInvite(
                    identity_pb2.CreateInviteRequest(), metadata=md, timeout=10
                )
        async with operator_channel(kinora_home(), f"127.0.0.1:{ports['generator']}", aio=True) as ch:
            return await generator_pb2_grpc.PoolAdminServiceStub(ch).ListPools(
                generator_pb2.ListPoolsRequest(), metadata=md, timeout=10
            )
    except grpc.RpcError as exc:
        raise CliError(exc.details() or exc.code().name) from None
