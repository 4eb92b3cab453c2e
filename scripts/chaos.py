"""Chaos on the local stack: while a bounded load of generations, purchases,
publishes and revocations runs through the gateway, kill -9 in turn each
service, a generator worker, the model server and the broker, bring each back
with the same command and environment, then check the invariants:

- every accepted generation ends completed, failed or canceled (none stuck);
- captured billing reservations equal completed generations (ledger drift 0);
- outboxes drained (no event left unpublished in any service's outbox);
- every event relayed before the broker's kill is delivered after it: the
  embedded Tansu keeps its log in memory, so this holds only because the
  outboxes keep published events and publish them again (docs/runtime.md);
  checked against every consumer group that reads the event's topic;
- no generation that used a cameo started after that cameo's revocation was
  acknowledged.

Stops by itself (bounded rounds and a settle deadline); prints counts; exit
status 1 when an invariant fails.

    .venv/bin/python scripts/chaos.py [--rounds 1] [--settle-seconds 240]
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
from collections import Counter
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TERMINAL = {"completed", "failed", "canceled"}


def make_stack(home: Path):
    """A LocalStack on free ports (metrics too) with limits raised for the load;
    `LocalStack.kill` and `restart` do the fault injection."""
    from kinora.stack import local
    from kinora.stack.tansu import free_port

    env = dict(
        os.environ,
        KINORA_BILLING_FREE_DAILY="100000",
        KINORA_RATE_USER_BURST="100000",
        KINORA_RATE_USER_PER_SECOND="100000",
        KINORA_LEASE_SECONDS="5",
        KINORA_METRICS_BASE_PORT="0",
    )
    for name in local.DEFAULT_PORTS:
        env[f"KINORA_{name.upper().replace('-', '_')}_PORT"] = str(free_port())
    return local.LocalStack(home=home, env=env, workers=1, log=print)


class Load:
    """Generations, purchases, publishes and revocations through the gateway."""

    def __init__(self, client, users, owner=None, cameo_id=""):
        self.client, self.users = client, users
        self.owner, self.cameo_id = owner, cameo_id  # a verified cameo that approves every user
        self.accepted: dict[str, dict] = {}  # generation id -> user
        self.counts = Counter()
        self.revoked_at: dict[str, float] = {}

    async def one(self):
        user = random.choice(self.users)
        h = {"Authorization": f"Bearer {user['token']}"}
        kind = random.choices(["generate", "purchase", "publish", "revoke"], [0.5, 0.2, 0.2, 0.1])[0]
        try:
            if kind == "generate":
                body = {"prompt": "a ball rolls down a ramp", "seconds": 4}
                if self.owner is not None and user is not self.owner and random.random() < 0.5:
                    body["cameos"] = [self.owner["handle"]]
                r = await self.client.post(
                    "/api/v1/generations", headers={**h, "Idempotency-Key": uuid.uuid4().hex}, json=body
                )
                if r.status_code in (200, 201, 202):
                    self.accepted[r.json()["generation"]["id"]] = user
            elif kind == "purchase":
                r = await self.client.post(
                    "/api/v1/billing/purchases",
                    headers=h,
                    json={
                        "pack_id": "starter",
                        "payment_token": "tok_test_succeed",
                        "idempotency_key": uuid.uuid4().hex,
                    },
                )
            elif kind == "publish":
                mine = [g for g, u in self.accepted.items() if u is user]
                if not mine:
                    return
                r = await self.client.post("/api/v1/posts", headers=h, json={"generation_id": random.choice(mine)})
            else:
                if self.owner is None:
                    return
                other = random.choice([u for u in self.users if u is not self.owner])
                oh = {"Authorization": f"Bearer {self.owner['token']}"}
                r = await self.client.post("/api/v1/cameo/revocations", headers=oh, json={"handle": other["handle"]})
                if r.status_code == 200:  # acknowledged: from now on no use by `other` may start
                    self.revoked_at.setdefault(other["id"], time.time())
            self.counts[f"{kind} {r.status_code}"] += 1
        except Exception as exc:  # noqa: BLE001 - a component is down: counted
            self.counts[f"{kind} {type(exc).__name__}"] += 1


async def run(args) -> int:
    import httpx

    home = Path(tempfile.mkdtemp(prefix="kinora-chaos-"))
    stack = make_stack(home)
    print(f"starting the local stack in {home} ...", flush=True)
    started = time.monotonic()
    stack.start(timeout_s=420)
    print(f"stack up in {time.monotonic() - started:.0f}s", flush=True)
    failures = []
    try:
        secret = (home / "internal_secret").read_text().strip()
        async with httpx.AsyncClient(base_url=stack.state.gateway_url, timeout=20) as client:
            users = await _users(client, stack, secret, args.users)
            owner = users[0]
            cameo_id = await _verified_cameo(client, owner, users[1:])
            print(f"@{owner['handle']} verified a cameo and approved {len(users) - 1} users", flush=True)
            load = Load(client, users, owner, cameo_id)
            relayed: set[tuple[str, str]] = set()  # (topic, event id) the broker had acknowledged at its kill
            victims = [
                "identity",
                "cameo",
                "feed",
                "generator",
                "billing",
                "gateway",
                "generator-worker-0",
                "model-server",
                "broker",
            ]
            for round_no in range(args.rounds):
                for victim in victims:
                    for _ in range(args.requests_between):
                        await load.one()
                    print(f"round {round_no + 1}: kill -9 {victim}", flush=True)
                    if victim == "broker":
                        relayed |= _relayed(stack)
                    stack.kill(victim)
                    for _ in range(args.requests_between // 2):  # load while it is down
                        await load.one()
                    stack.restart(victim)
                    stack.wait_serving(180)
            print(f"load done: {sum(load.counts.values())} requests: {dict(sorted(load.counts.items()))}", flush=True)
            failures += await _check(client, stack, load, args.settle_seconds)
            failures += await _check_delivered(stack, relayed, args.settle_seconds)
    finally:
        stack.stop()
    print("FAILED: " + "; ".join(failures) if failures else "all invariants held")
    return 1 if failures else 0


async def _users(client, stack, secret, count):
    from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
    from kinora.runtime.auth import mint_service_token
    from kinora.stack.local import operator_channel
    from kinora.testing import bearer

    users = []
    async with operator_channel(stack.home, stack.addr("identity"), aio=True) as ch:
        stub = identity_pb2_grpc.IdentityServiceStub(ch)
        for _ in range(count):
            code = (
                await stub.CreateInvite(
                    identity_pb2.CreateInviteRequest(), metadata=bearer(mint_service_token("admin", secret)[0])
                )
            ).invite.code
            handle = f"chaos{uuid.uuid4().hex[:8]}"
            r = await client.post(
                "/api/v1/auth/signup",
                json={
                    "invite_code": code,
                    "handle": handle,
                    "password": "correct horse battery",
                    "birthdate": "1990-05-01",
                    "region": "US",
                },
            )
            r.raise_for_status()
            body = r.json()
            users.append({"id": body["user"]["id"], "token": body["tokens"]["access_token"], "handle": handle})
    return users


async def _verified_cameo(client, owner, approved) -> str:
    """The owner passes the liveness check (a clip made for the challenge, as in
    `make demo`), sets "people I approve" and approves everyone else."""
    from kinora.media.liveness_clip import clip_for_challenge, speakable

    h = {"Authorization": f"Bearer {owner['token']}"}
    for _ in range(3):
        for _ in range(60):
            ver = (await client.post("/api/v1/cameo/verifications", headers=h)).json()["verification"]
            if speakable(ver["challenge"]["digits"]):
                break
        turns = [t.removeprefix("HEAD_TURN_").lower() for t in ver["challenge"].get("head_turns", [])]
        clip = await asyncio.to_thread(clip_for_challenge, ver["challenge"]["digits"], turns)
        r = await client.post(
            f"/api/v1/cameo/verifications/{ver['id']}/video",
            headers=h,
            timeout=120,
            files={"video": ("owner.mp4", clip, "video/mp4")},
            data={"nonce": ver["challenge"]["nonce"], "display_name": "Owner"},
        )
        if r.json()["verification"]["status"] == "VERIFICATION_STATUS_PASSED":
            break
    else:
        raise SystemExit("the owner's liveness check failed three times")
    for _ in range(120):
        r = await client.get("/api/v1/cameo", headers=h)
        if r.status_code == 200:
            break
        await asyncio.sleep(0.5)
    r.raise_for_status()
    body = r.json()
    cameo_id = (body.get("cameo") or body)["id"]
    (await client.put("/api/v1/cameo/policy", headers=h, json={"policy": "approved"})).raise_for_status()
    for user in approved:
        (await client.post("/api/v1/cameo/approvals", headers=h, json={"handle": user["handle"]})).raise_for_status()
    return cameo_id


def _uses_after_revocation(stack, load) -> list[str]:
    """Generations with the revoked cameo that started (or were accepted)
    after the owner's revocation was acknowledged, and still completed."""
    bad = []
    with _db(stack, "generator") as db:
        rows = db.execute("SELECT id, user_id, cameo_ids, status, created_at, started_at FROM generations").fetchall()
    for gen_id, user_id, cameo_ids, status, created, started in rows:
        revoked = load.revoked_at.get(user_id)
        if revoked is None or load.cameo_id not in cameo_ids or status != "completed":
            continue
        began = (started or created).timestamp()  # timestamptz: aware datetimes
        if began > revoked + 0.05:  # clock read after the acknowledgement
            bad.append(gen_id)
    return bad


DATABASES = ("identity", "cameo", "feed", "generator", "billing")


def _relayed(stack) -> set[tuple[str, str]]:
    """Every event the services' outboxes hold as published (acknowledged by the broker)."""
    relayed = set()
    for name in DATABASES:
        with _db(stack, name) as db:
            relayed |= set(db.execute("SELECT topic, event_id FROM outbox WHERE published_at IS NOT NULL"))
    return relayed


async def _check_delivered(stack, relayed, settle_s) -> list[str]:
    """Each event relayed before the broker's kill reached every consumer group that reads its
    topic (a group reads a topic if it processed any event of it)."""
    deadline = time.monotonic() + settle_s
    while True:
        missing = Counter()
        for name in DATABASES:
            with _db(stack, name) as db:
                seen = set(db.execute("SELECT topic, event_id FROM processed_events"))
            read = {topic for topic, _ in seen}
            missing.update(f"{name} <- {topic}" for topic, event in relayed - seen if topic in read)
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(3)
    print(
        f"events relayed before the broker's kill: {len(relayed)}; not delivered after it: "
        f"{sum(missing.values())} {dict(missing) if missing else ''}"
    )
    return (
        [f"{sum(missing.values())} events relayed before the broker's kill never arrived: {dict(missing)}"]
        if missing
        else []
    )


def _db(stack, name) -> psycopg.Connection:
    """Service `name`'s database on the stack's PostgreSQL (autocommit: reads only)."""
    dsn = stack.database_url(name).replace("postgresql+psycopg://", "postgresql://", 1)
    return psycopg.connect(dsn, autocommit=True)


async def _check(client, stack, load, settle_s) -> list[str]:
    failures = []
    deadline = time.monotonic() + settle_s
    statuses = {}
    while time.monotonic() < deadline:
        with _db(stack, "generator") as db:
            statuses = dict(db.execute("SELECT id, status FROM generations").fetchall())
        stuck = [g for g in load.accepted if statuses.get(g) not in TERMINAL]
        if not stuck:
            break
        await asyncio.sleep(3)
    stuck = [g for g in load.accepted if statuses.get(g) not in TERMINAL]
    outcome = Counter(statuses.get(g, "missing") for g in load.accepted)
    print(f"accepted generations: {len(load.accepted)}; outcomes {dict(outcome)}")
    if stuck:
        failures.append(f"{len(stuck)} generations not terminal after {settle_s}s")
    # Ledger: captures must match completed generations once billing has caught up.
    completed = {g for g, s in statuses.items() if s == "completed"}
    while True:
        with _db(stack, "billing") as db:
            captured = {r[0] for r in db.execute("SELECT generation_id FROM reservations WHERE status='captured'")}
        if captured == completed or time.monotonic() > deadline + 60:
            break
        await asyncio.sleep(3)
    print(
        f"completed generations {len(completed)}, captured reservations {len(captured)}, "
        f"drift {len(completed ^ captured)}"
    )
    if captured != completed:
        failures.append(
            f"ledger drift: {len(completed - captured)} completed not charged, "
            f"{len(captured - completed)} charged not completed"
        )
    for name in DATABASES:
        while True:
            with _db(stack, name) as db:
                pending = db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
            if not pending or time.monotonic() > deadline + 90:
                break
            await asyncio.sleep(2)
        print(f"{name}: {pending} events left in the outbox")
        if pending:
            failures.append(f"{name} outbox not drained ({pending})")
    late = _uses_after_revocation(stack, load)
    print(
        f"revocations acknowledged: {len(load.revoked_at)}; completed uses of the cameo that began after "
        f"their revocation: {len(late)}"
    )
    if late:
        failures.append(f"{len(late)} generations used a cameo after its revocation was acknowledged: {late[:3]}")
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--users", type=int, default=4)
    p.add_argument("--requests-between", type=int, default=6)
    p.add_argument("--settle-seconds", type=float, default=240)
    raise SystemExit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
