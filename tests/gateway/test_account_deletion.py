"""Deleting an account erases the person from every store (issue 18, part 5), through the
public API and the real broker, on the five real services and a real generator worker with
Triton (worldsim).

Zelda has a verified cameo, two generated clips (one with her cameo, one made from an input
image), a published post, comments, likes, follows both ways, "see less" and preferences,
credits, a subscription and an API key; Yuri, another person, has a post she liked and commented
on and follows her. After DELETE /api/v1/me every table of every service's database and both
blob folders hold nothing that names her (her id, her handle or the marker word in everything
she wrote), except:
- the billing ledger, which keeps its rows with her id replaced by the deletion's anonymous id
  (amounts unchanged, the books still balance);
- the event logs (each service's outbox and processed-event ids), which age out with
  KINORA_OUTBOX_RETENTION_S as Kafka's log does with its retention (docs/api.md).
Her access token and API key stop working within the deny list's refresh (30 s); her handle is
retired (nobody can sign up as her); Yuri's account, post and clip are untouched (only the like
and comment Zelda left on it are gone); a wrong password changes nothing."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth
from PIL import Image
from sqlalchemy import text
from test_cameo_erasure import engine_for, generator_worker
from test_likeness_guard import verify_cameo

from kinora.identity.v1 import events_pb2 as identity_ev

pytestmark = pytest.mark.asyncio(loop_scope="module")

MARK = "zeldamark"  # in everything she writes, so what she wrote can be searched for
HANDLE = "zelda_gone"
PASSWORD = "correct horse battery"
EVENT_LOGS = {"outbox", "processed_events", "outbox_acks", "alembic_version"}
SERVICES = ("identity", "cameo", "feed", "generator", "billing")


def holdings(platform, needles: list[str]) -> Counter:
    """Rows in every table of every service (but the event logs) whose text or bytes contain
    one of `needles`, and files in both blob folders whose path or bytes do."""
    found: Counter = Counter()
    for name in SERVICES:
        engine = engine_for(platform.apps[name])
        try:
            with engine.connect() as c:
                columns = c.execute(
                    text(
                        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
                        "JOIN information_schema.tables t USING (table_schema, table_name) "
                        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
                    )
                ).all()
                tables: dict[str, list[str]] = {}
                for table, column, kind in columns:
                    tables.setdefault(table, [])
                    if kind == "bytea":
                        tables[table].append(column)
                for table, binary in tables.items():
                    if table in EVENT_LOGS:
                        continue
                    for i, needle in enumerate(needles):
                        where = [
                            f"position(:n{i} in r::text) > 0",
                            *(f"position(convert_to(:n{i}, 'UTF8') in r.\"{b}\") > 0" for b in binary),
                        ]
                        n = c.execute(
                            text(f'SELECT count(*) FROM "{table}" AS r WHERE {" OR ".join(where)}'), {f"n{i}": needle}
                        ).scalar()
                        if n:
                            found[f"{name}.{table} ({needle})"] += n
        finally:
            engine.dispose()
    for folder in (
        Path(platform.apps["identity"].settings.blob_dir),
        Path(platform.apps["generator"].settings.blob_root()),
    ):
        for path in folder.rglob("*"):
            if path.is_file():
                for needle in needles:
                    if needle in str(path) or needle.encode() in path.read_bytes():
                        found[f"blob {path.relative_to(folder)} ({needle})"] += 1
    return found


def media_files(platform, generation_id: str) -> list[Path]:
    engine = engine_for(platform.apps["generator"])
    try:
        with engine.connect() as c:
            row = c.execute(
                text("SELECT media, input_image_key FROM generations WHERE id = :g"), {"g": generation_id}
            ).one()
    finally:
        engine.dispose()
    import json

    keys = [m["key"] for m in json.loads(row.media)] + ([row.input_image_key] if row.input_image_key else [])
    root = Path(platform.apps["generator"].settings.blob_root())
    return [root / k for k in keys]


def anonymous_id(platform, user_id: str) -> str:
    engine = engine_for(platform.apps["identity"])
    try:
        with engine.connect() as c:
            payload = c.execute(
                text("SELECT payload FROM outbox WHERE event_type = :t AND aggregate_id = :u"),
                {"t": identity_ev.UserDeleted.DESCRIPTOR.full_name, "u": user_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return identity_ev.UserDeleted.FromString(payload).anonymous_id


def billing_rows(platform, owner: str) -> dict[str, int]:
    engine = engine_for(platform.apps["billing"])
    try:
        with engine.connect() as c:
            return {
                "accounts": c.execute(text("SELECT count(*) FROM accounts WHERE owner = :u"), {"u": owner}).scalar(),
                "transactions": c.execute(
                    text("SELECT count(*) FROM ledger_transactions WHERE user_id = :u"), {"u": owner}
                ).scalar(),
                "entries": c.execute(
                    text(
                        "SELECT count(*) FROM ledger_entries e "
                        "JOIN accounts a ON a.id = e.account_id "
                        "WHERE a.owner = :u"
                    ),
                    {"u": owner},
                ).scalar(),
                "credits": c.execute(
                    text("SELECT coalesce(sum(balance), 0) FROM accounts WHERE owner = :u AND kind = 'credits'"),
                    {"u": owner},
                ).scalar(),
                "subscriptions_live": c.execute(
                    text("SELECT count(*) FROM subscriptions WHERE user_id = :u AND status <> 'ended'"), {"u": owner}
                ).scalar(),
                "books_balance": c.execute(text("SELECT coalesce(sum(amount), 0) FROM ledger_entries")).scalar(),
            }
    finally:
        engine.dispose()


async def wait_done(client, user, generation_id: str) -> None:
    for _ in range(1200):
        status = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(user))).json()
        if status["generation"]["status"] in ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED"):
            break
        await asyncio.sleep(0.25)
    assert status["generation"]["status"] == "GENERATION_STATUS_COMPLETED", status


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (200, 80, 40)).save(buf, "PNG")
    return buf.getvalue()


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=180) as c:
        yield c


async def test_deleting_an_account_erases_the_person_everywhere(platform, client):
    zelda, yuri = await platform.signup(client, HANDLE), await platform.signup(client, "yuri_keeps")
    z, y = auth(zelda), auth(yuri)
    assert (await client.patch("/api/v1/me", headers=z, json={"display_name": f"Zelda {MARK}"})).status_code == 200
    await verify_cameo(client, zelda)

    async with generator_worker(platform):
        made = {}
        for who, body, files in (
            (
                zelda,
                {"prompt": f'{MARK}: a person says "hello" on a basketball court', "cameos": [HANDLE], "seconds": 4},
                None,
            ),
            (
                zelda,
                {"prompt": f"{MARK} a red kite over a field", "seconds": "4"},
                {"image": ("in.png", png(), "image/png")},
            ),
            (yuri, {"prompt": "a paper boat drifts down a rainy street", "seconds": 4}, None),
        ):
            headers = {**auth(who), "Idempotency-Key": uuid.uuid4().hex}
            reply = await (
                client.post("/api/v1/generations", headers=headers, data=body, files=files)
                if files
                else client.post("/api/v1/generations", headers=headers, json=body)
            )
            assert reply.status_code == 201, reply.text
            made.setdefault(who["handle"], []).append(reply.json()["generation"]["id"])
        for who in (zelda, yuri):
            for generation_id in made[who["handle"]]:
                await wait_done(client, who, generation_id)

    async def publish(who, generation_id, caption):
        for _ in range(100):  # feed learns of the finished clip from the generator's event
            reply = await client.post(
                "/api/v1/posts", headers=auth(who), json={"generation_id": generation_id, "caption": caption}
            )
            if reply.status_code == 201:
                return reply.json()["post"]["id"]
            await asyncio.sleep(0.2)
        raise AssertionError(reply.text)

    zelda_post = await publish(zelda, made[HANDLE][0], f"{MARK} my first clip")
    yuri_post = await publish(yuri, made["yuri_keeps"][0], "a boat")
    for headers, post, words in (
        (z, yuri_post, f"{MARK} lovely"),
        (y, zelda_post, "nice one"),
        (z, zelda_post, f"{MARK} thanks"),
    ):
        assert (await client.post(f"/api/v1/posts/{post}/like", headers=headers)).status_code == 200
        assert (
            await client.post(f"/api/v1/posts/{post}/comments", headers=headers, json={"text": words})
        ).status_code == 201
    assert (await client.post("/api/v1/users/yuri_keeps/follow", headers=z)).status_code == 200
    assert (await client.post(f"/api/v1/users/{HANDLE}/follow", headers=y)).status_code == 200
    assert (
        await client.put("/api/v1/feed/preferences", headers=z, json={"text": f"more {MARK} kites"})
    ).status_code == 200
    assert (
        await client.post(f"/api/v1/posts/{yuri_post}/see-less", headers=z, json={"note": f"{MARK} too many boats"})
    ).status_code == 200
    packs = (await client.get("/api/v1/billing/packs", headers=z)).json()["packs"]
    bought = await client.post(
        "/api/v1/billing/purchases", headers=z, json={"pack_id": packs[0]["id"], "payment_token": "tok_test_succeed"}
    )
    assert bought.status_code == 201, bought.text
    subscribed = await client.post(
        "/api/v1/billing/subscription", headers=z, json={"plan_id": "pro", "payment_token": "tok_test_succeed"}
    )
    assert subscribed.status_code == 201, subscribed.text
    key = (await client.post("/api/v1/apikeys", headers=z, json={"name": f"{MARK} key"})).json()["secret"]
    assert (await client.get("/v1/videos", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    await asyncio.sleep(2)  # let every event of the set-up reach its consumers

    needles = [zelda["id"], HANDLE, MARK]
    before = holdings(platform, needles)
    for store in (
        "identity.users",
        "identity.sessions",
        "identity.api_keys",
        "identity.verifications",
        "identity.face_embeddings",
        "cameo.cameos",
        "feed.posts",
        "feed.comments",
        "feed.likes",
        "feed.follows",
        "feed.users",
        "generator.generations",
        "billing.accounts",
        "billing.ledger_transactions",
        "billing.subscriptions",
        "blob likeness/",
    ):
        assert any(k.startswith(store) for k in before), (store, before)
    zelda_media, yuri_media = media_files(platform, made[HANDLE][1]), media_files(platform, made["yuri_keeps"][0])
    assert zelda_media and all(p.exists() for p in zelda_media + yuri_media)
    ledger_before = billing_rows(platform, zelda["id"])
    yuri_post_before = (await client.get(f"/api/v1/posts/{yuri_post}", headers=y)).json()["post"]

    # A wrong or missing password changes nothing.
    wrong = await client.request("DELETE", "/api/v1/me", headers=z, json={"password": "not my password"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password", wrong.text
    missing = await client.request("DELETE", "/api/v1/me", headers=z, json={})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "password_required", missing.text
    counted = holdings(platform, needles)  # the wrong password was counted (like a failed sign-in), nothing else
    assert counted.pop(f"identity.signin_failures ({zelda['id']})") == 1
    assert counted == before
    assert (await client.get("/api/v1/me", headers=z)).status_code == 200

    deleted = await client.request("DELETE", "/api/v1/me", headers=z, json={"password": PASSWORD})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_at"]

    anon = anonymous_id(platform, zelda["id"])
    for _ in range(300):  # the other services erase when UserDeleted reaches them through the broker
        after = holdings(platform, needles)
        if not after:
            break
        await asyncio.sleep(0.2)
    assert not after, after
    assert not any(p.exists() for p in zelda_media)

    # The ledger keeps every row and amount, under the anonymous id; the books still balance.
    ledger_after = billing_rows(platform, anon)
    assert ledger_after["transactions"] == ledger_before["transactions"] > 0
    assert ledger_after["entries"] == ledger_before["entries"] > 0
    assert ledger_after["credits"] == ledger_before["credits"]
    assert ledger_before["subscriptions_live"] == 1 and ledger_after["subscriptions_live"] == 0
    assert ledger_after["books_balance"] == 0

    # Her token and API key stop within the deny list's refresh; her handle is retired.
    for _ in range(40):
        me = await client.get("/api/v1/me", headers=z)
        videos = await client.get("/v1/videos", headers={"Authorization": f"Bearer {key}"})
        if me.status_code == 401 and videos.status_code == 401:
            break
        await asyncio.sleep(1)
    assert me.status_code == 401 and videos.status_code == 401, (me.text, videos.text)
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": zelda["refresh"]})
    assert refreshed.status_code == 401
    assert (await client.post("/api/v1/auth/signin", json={"handle": HANDLE, "password": PASSWORD})).status_code == 401
    again = await client.post(
        "/api/v1/auth/signup",
        json={
            "invite_code": await platform.invite(),
            "handle": HANDLE,
            "password": PASSWORD,
            "birthdate": "1990-05-01",
            "region": "US",
        },
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "handle_retired", again.text

    # Yuri keeps everything of his; only what Zelda added to his post is gone.
    assert (await client.get("/api/v1/me", headers=y)).status_code == 200
    post = (await client.get(f"/api/v1/posts/{yuri_post}", headers=y)).json()["post"]
    assert int(post.get("like_count", 0)) == int(yuri_post_before.get("like_count", 0)) - 1
    assert int(post.get("comment_count", 0)) == int(yuri_post_before.get("comment_count", 0)) - 1
    assert all(p.exists() for p in yuri_media)
    clip = await client.get(f"/api/v1/generations/{made['yuri_keeps'][0]}/content", headers=y)
    assert clip.status_code == 200 and len(clip.content) > 1000
    assert (await client.get(f"/api/v1/posts/{zelda_post}", headers=y)).status_code == 404

    # Delivered again (a consumer crash before its offset commit), every erasure changes nothing and fails nothing.
    from sqlalchemy.orm import sessionmaker

    from services.billing.erasure import anonymise_user
    from services.cameo import handlers as cameo_handlers
    from services.feed import handlers as feed_handlers
    from services.generator import handlers as gen_handlers
    from services.generator.blobs import FilesystemBlobStore

    event = identity_ev.UserDeleted(user_id=zelda["id"], anonymous_id=anon)
    gen_blobs = FilesystemBlobStore(platform.apps["generator"].settings.blob_root())
    for name, handle in (
        ("cameo", cameo_handlers.user_deleted),
        ("feed", feed_handlers.user_deleted(None)),
        ("generator", gen_handlers.on_user_deleted(gen_blobs)),
        ("billing", lambda s, m, meta: anonymise_user(s, m.user_id, m.anonymous_id)),
    ):
        engine = engine_for(platform.apps[name])
        try:
            with sessionmaker(engine).begin() as s:
                handle(s, event, None)
        finally:
            engine.dispose()
    left = holdings(platform, needles)
    # The sign-in tried above as her, after the deletion, was counted under the handle typed (a
    # throttle counter of attempts, pruned after two windows): not data of hers.
    assert left.pop(f"identity.signin_failures ({HANDLE})", 0) <= 1
    assert not left, left
    assert billing_rows(platform, anon)["transactions"] == ledger_before["transactions"]
