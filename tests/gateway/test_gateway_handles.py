"""People and characters share one handle namespace (docs/identity.md, "Handles"), through the
gateway against the five real services and the real broker: cameo asks identity before a
character takes a handle; identity hears of characters from cameo's events (its outbox, the
broker) and refuses their handles at sign-up; a deleted character's handle is free again."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import pytest_asyncio
from character_pictures import dog, encoded
from gateway_platform import auth
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.asyncio(loop_scope="module")
DOG_PNG = encoded(dog())
DEADLINE_S = 60.0  # events cross the broker; a loaded machine is slow, never this slow


def engine_for(app):
    return create_engine(app.settings.database_url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)


async def eventually(probe, what: str):
    """Waits (with a deadline) until probe() is true."""
    deadline = time.monotonic() + DEADLINE_S
    while not await asyncio.to_thread(probe):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {DEADLINE_S:.0f} s")
        await asyncio.sleep(0.1)


def has_row(engine, sql: str, **params) -> bool:
    with engine.connect() as c:
        return c.execute(text(sql), params).first() is not None


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def dbs(platform):
    engines = {name: engine_for(platform.apps[name]) for name in ("identity", "cameo")}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        yield c


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def owner(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        return await platform.signup(c, "toymaker")


async def make_character(client, user: dict, handle: str):
    return await client.post(
        "/api/v1/characters",
        headers=auth(user),
        data={"name": "A Toy", "handle": handle, "description": "a small brown dog"},
        files={"media": ("upload", DOG_PNG, "image/png")},
    )


async def sign_up(platform, client, handle: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/signup",
        json={
            "invite_code": await platform.invite(),
            "handle": handle,
            "password": "correct horse battery",
            "birthdate": "1990-05-01",
            "region": "US",
        },
    )


async def test_a_character_cannot_take_the_handle_of_a_person_cameo_has_not_heard_of(platform, client, dbs, owner):
    dora = await platform.signup(client, "dora")
    cameo_knows = "SELECT 1 FROM users WHERE user_id = :id"
    await eventually(lambda: has_row(dbs["cameo"], cameo_knows, id=dora["id"]), "cameo heard of dora")
    # Stand for the event's trip: cameo's copy of the person goes, so only identity knows her.
    with dbs["cameo"].begin() as c:
        c.execute(text("DELETE FROM users WHERE user_id = :id"), {"id": dora["id"]})
    taken = await make_character(client, owner, "dora")
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"] == {
        "code": "handle_taken",
        "message": "@dora is taken by a person or another character; choose another handle",
    }
    assert (await client.get("/api/v1/characters", headers=auth(owner))).json().get("cameos", []) == []


async def test_a_sign_up_cannot_take_a_characters_handle_and_can_once_it_is_deleted(platform, client, dbs, owner):
    made = await make_character(client, owner, "ziggy_toy")
    assert made.status_code == 201, made.text
    reserved = "SELECT 1 FROM reserved_handles WHERE handle = 'ziggy_toy' AND cameo_id = :id"
    await eventually(
        lambda: has_row(dbs["identity"], reserved, id=made.json()["id"]), "identity reserved the character's handle"
    )
    refused = await sign_up(platform, client, "Ziggy_Toy")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == {
        "code": "handle_taken",
        "message": "the handle ziggy_toy belongs to a character; choose another handle",
    }
    assert not has_row(dbs["identity"], "SELECT 1 FROM users WHERE handle = 'ziggy_toy'")

    # Deleted: the handle is free again, in cameo at once and in identity once the event arrives.
    gone = await client.delete(f"/api/v1/characters/{made.json()['id']}", headers=auth(owner))
    assert gone.status_code == 200, gone.text
    assert (await client.get("/api/v1/characters/@ziggy_toy", headers=auth(owner))).status_code == 404
    await eventually(
        lambda: not has_row(dbs["identity"], reserved, id=made.json()["id"]),
        "identity freed the deleted character's handle",
    )
    ziggy = await platform.signup(client, "ziggy_toy")
    assert ziggy["handle"] == "ziggy_toy"
    # And a character can no longer take it: it is a person's now.
    assert (await make_character(client, owner, "ziggy_toy")).status_code == 409
