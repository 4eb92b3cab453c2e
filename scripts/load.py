"""Load on the local stack, loopback only, bounded in requests and time.

A mix of feed reads, generation creates, generation status polls (through
the gateway's REST API) and consent checks (cameo CheckUse over gRPC: the
gateway has no route for it; a user may check uses on their own behalf). It
steps concurrency up (1, 2, 4, ... --max-concurrency) and reports, per step
and per endpoint, throughput and p50/p95/p99 latency; the saturation point is
the first step whose throughput grows less than 10% over the previous one.

    .venv/bin/python scripts/load.py --start            # starts a LocalStack on free ports
    .venv/bin/python scripts/load.py --gateway http://127.0.0.1:8080 --cameo 127.0.0.1:50062
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIX = (("feed_read", 0.45), ("status_poll", 0.30), ("consent_check", 0.15), ("generation_create", 0.10))


def start_stack(home: Path):
    from kinora.stack import local
    from kinora.stack.local import DEFAULT_PORTS, LocalStack
    from kinora.stack.tansu import free_port, port_free

    # LocalStack's /metrics ports are a fixed range (19461+); move it where nothing listens.
    local.METRICS_BASE = next(
        b for b in range(random.randrange(30000, 40000, 50), 60000, 50) if all(port_free(b + i) for i in range(20))
    )

    env = dict(os.environ)
    for name in DEFAULT_PORTS:  # free ports: never collide with a stack someone else runs
        env[f"KINORA_{name.upper().replace('-', '_')}_PORT"] = str(free_port())
    env.setdefault("KINORA_BILLING_FREE_DAILY", "100000")  # allowance must not be what saturates
    env.setdefault("KINORA_RATE_USER_BURST", "100000")
    env.setdefault("KINORA_RATE_USER_PER_SECOND", "100000")
    stack = LocalStack(home=home, env=env, workers=1, log=lambda m: print(m, file=sys.stderr))
    stack.start(timeout_s=300)
    return stack


async def make_users(client, stack_secret: str, identity_addr: str, count: int, home: Path | None) -> list[dict]:
    from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
    from kinora.runtime.auth import mint_service_token
    from kinora.testing import bearer

    users = []
    async with _channel(home, identity_addr, "admin") as ch:
        stub = identity_pb2_grpc.IdentityServiceStub(ch)
        for _ in range(count):
            code = (
                await stub.CreateInvite(
                    identity_pb2.CreateInviteRequest(), metadata=bearer(mint_service_token("admin", stack_secret)[0])
                )
            ).invite.code
            handle = f"load{uuid.uuid4().hex[:8]}"
            reply = await client.post(
                "/api/v1/auth/signup",
                json={
                    "invite_code": code,
                    "handle": handle,
                    "password": "correct horse battery",
                    "birthdate": "1990-05-01",
                    "region": "US",
                },
            )
            reply.raise_for_status()
            body = reply.json()
            users.append({"id": body["user"]["id"], "token": body["tokens"]["access_token"], "generations": []})
    return users


def _channel(home: Path | None, address: str, name: str):
    """With a stack started here (mutual TLS), present its certificate `name`."""
    import grpc

    from kinora.stack.local import operator_channel

    return operator_channel(home, address, aio=True, name=name) if home else grpc.aio.insecure_channel(address)


async def one_request(kind, client, cameo_stub, user, cameo_ids, latencies, errors):
    from kinora.cameo.v1 import cameo_pb2
    from kinora.testing import bearer

    headers = {"Authorization": f"Bearer {user['token']}"}
    started = time.perf_counter()
    ok = True
    try:
        if kind == "feed_read":
            ok = (await client.get("/api/v1/feed", headers=headers, params={"page_size": 10})).status_code == 200
        elif kind == "generation_create":
            r = await client.post(
                "/api/v1/generations",
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                json={"prompt": "a red ball bounces across a wooden floor", "seconds": 4},
            )
            ok = r.status_code in (200, 201, 202)
            if ok:
                user["generations"].append(r.json().get("id") or r.json().get("generation", {}).get("id"))
        elif kind == "status_poll":
            if not user["generations"]:
                kind = "feed_read"
                ok = (await client.get("/api/v1/feed", headers=headers)).status_code == 200
            else:
                gid = random.choice(user["generations"])
                ok = (await client.get(f"/api/v1/generations/{gid}", headers=headers)).status_code == 200
        elif kind == "consent_check":
            await cameo_stub.CheckUse(
                cameo_pb2.CheckUseRequest(cameo_ids=cameo_ids[:1], prompt="a walk on a beach"),
                metadata=bearer(user["token"]),
                timeout=10,
            )
    except Exception as exc:  # noqa: BLE001 - counted, reported
        ok = False
        errors[kind].append(type(exc).__name__)
    latencies[kind].append(time.perf_counter() - started)
    if not ok:
        errors[kind].append("status")


async def step(concurrency, total, max_s, client, cameo_stub, users, cameo_ids):
    latencies, errors = defaultdict(list), defaultdict(list)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    remaining = total
    deadline = time.monotonic() + max_s

    async def runner():
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            kind = random.choices(kinds, weights)[0]
            await one_request(kind, client, cameo_stub, random.choice(users), cameo_ids, latencies, errors)

    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, errors


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(args):
    import httpx

    from kinora.cameo.v1 import cameo_pb2_grpc

    stack = home = None
    gateway, cameo_addr, identity_addr, secret = args.gateway, args.cameo, args.identity, args.secret
    if args.start:
        home = Path(tempfile.mkdtemp(prefix="kinora-load-"))
        print(f"starting a local stack in {home} ...", flush=True)
        stack = start_stack(home)
        gateway, cameo_addr, identity_addr = stack.state.gateway_url, stack.addr("cameo"), stack.addr("identity")
        secret = (home / "internal_secret").read_text().strip()
    try:
        async with (
            httpx.AsyncClient(base_url=gateway, timeout=30, limits=httpx.Limits(max_connections=256)) as client,
            _channel(home, cameo_addr, "gateway") as cameo_ch,
        ):  # in the gateway's place
            users = await make_users(client, secret, identity_addr, args.users, home)
            cameo_ids = [str(uuid.uuid4())]  # an unknown cameo: the check runs fully and answers "not found"
            cameo_stub = cameo_pb2_grpc.CameoServiceStub(cameo_ch)
            print(
                f"load on {gateway} (cameo {cameo_addr}); {os.cpu_count()} CPUs, shared; "
                f"mix {dict(MIX)}; {args.requests} requests or {args.step_seconds}s per step",
                flush=True,
            )
            results = []
            concurrency = 1
            while concurrency <= args.max_concurrency:
                elapsed, lat, err = await step(
                    concurrency, args.requests, args.step_seconds, client, cameo_stub, users, cameo_ids
                )
                done = sum(len(v) for v in lat.values())
                rps = done / elapsed
                results.append((concurrency, rps))
                print(f"\nconcurrency {concurrency}: {done} requests in {elapsed:.1f}s = {rps:.1f} req/s")
                print(f"  {'endpoint':20s} {'n':>5s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} errors")
                for kind in sorted(lat):
                    v = lat[kind]
                    print(
                        f"  {kind:20s} {len(v):5d} {len(v) / elapsed:7.1f} {pct(v, 0.5):8.1f} {pct(v, 0.95):8.1f} "
                        f"{pct(v, 0.99):8.1f} {len(err.get(kind, []))}"
                    )
                concurrency *= 2
            saturation = next((c for (c, r), (_, prev) in zip(results[1:], results) if r < prev * 1.10), None)
            best = max(results, key=lambda x: x[1])
            print(
                f"\npeak {best[1]:.1f} req/s at concurrency {best[0]}; "
                + (
                    f"saturated at concurrency {saturation} (throughput grew <10% over the step before)"
                    if saturation
                    else "no saturation within the steps run"
                )
            )
    finally:
        if stack is not None:
            stack.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", action="store_true", help="start a LocalStack on free ports (and stop it after)")
    p.add_argument("--gateway", default="http://127.0.0.1:8080")
    p.add_argument("--cameo", default="127.0.0.1:50062")
    p.add_argument("--identity", default="127.0.0.1:50061")
    p.add_argument("--secret", default=None, help="KINORA_INTERNAL_SECRET of the stack (to mint invites)")
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--requests", type=int, default=300, help="requests per concurrency step (bound)")
    p.add_argument("--step-seconds", type=float, default=20.0, help="time per concurrency step (bound)")
    p.add_argument("--max-concurrency", type=int, default=32)
    args = p.parse_args()
    for url in (args.gateway,):
        if not url.startswith(("http://127.", "http://localhost")):
            raise SystemExit("load.py drives loopback addresses only")
    if not args.start and not args.secret:
        home = Path(os.environ.get("KINORA_HOME", ".kinora"))
        args.secret = (home / "internal_secret").read_text().strip()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
