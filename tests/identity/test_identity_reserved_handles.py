"""One handle namespace (docs/identity.md, "Handles"): identity reserves the handles of cameo's
characters from cameo's CharacterCreated/CharacterDeleted events and refuses them at sign-up.

Identity over real gRPC on PostgreSQL; the events go through identity's own handlers
(`consumed_events`, as its consumer runs them: in a transaction), redelivered to show they are
idempotent. The trip over the real broker is in tests/gateway/test_gateway_handles.py."""

from __future__ import annotations

import logging
import uuid

import grpc
import pytest
from identity_harness import Running, settings_for
from sqlalchemy import func, select

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.identity.v1 import identity_pb2 as idpb
from kinora.runtime.db import transaction
from kinora.runtime.errors import error_code_of
from services.identity import handlers
from services.identity.blobs import BlobStore
from services.identity.models import reserved_handles, users
from services.identity.topics import CAMEO_CONSENT_TOPIC, CONSUMES


@pytest.fixture
async def idsvc(pg_url, tmp_path):
    async with Running(settings_for(pg_url, tmp_path / "blobs")) as running:
        yield running


def deliver(idsvc: Running, event) -> None:
    """Hands an event to identity's handler twice (a redelivery changes nothing)."""
    handle = handlers.consumed_events(BlobStore(idsvc.settings.blob_dir))[type(event)]
    for _ in range(2):
        with transaction(idsvc.service.ctx.sessions) as s:
            handle(s, event, None)


def reserved(idsvc: Running) -> list[tuple[str, str]]:
    with idsvc.service.ctx.engine.connect() as c:
        rows = c.execute(
            select(reserved_handles.c.handle, reserved_handles.c.cameo_id).order_by(reserved_handles.c.handle)
        ).all()
    return [(r.handle, r.cameo_id) for r in rows]


async def refused_sign_up(idsvc: Running, handle: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await idsvc.sign_up(handle)
    return info.value


def test_identity_reads_characters_from_cameos_consent_topic():
    assert {cameo_ev.CharacterCreated, cameo_ev.CharacterDeleted} <= set(CONSUMES[CAMEO_CONSENT_TOPIC])


async def test_a_sign_up_cannot_take_a_characters_handle_until_the_character_is_deleted(idsvc):
    owner = (await idsvc.sign_up("rex_owner")).user.id
    rex = str(uuid.uuid4())
    deliver(idsvc, cameo_ev.CharacterCreated(cameo_id=rex, handle="rex_dog", owner_user_id=owner))
    assert reserved(idsvc) == [("rex_dog", rex)]

    for typed in ("rex_dog", "REX_DOG", " rex_dog "):  # handles are compared lower case, trimmed
        err = await refused_sign_up(idsvc, typed)
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS and error_code_of(err) == "handle_taken"
        assert err.details() == "the handle rex_dog belongs to a character; choose another handle"
    with idsvc.service.ctx.engine.connect() as c:  # nothing half-written by the refusals
        assert c.execute(select(func.count()).select_from(users)).scalar_one() == 1

    # Deleted: the handle is free again, for anyone.
    deliver(idsvc, cameo_ev.CharacterDeleted(cameo_id=rex, handle="rex_dog", owner_user_id=owner))
    assert reserved(idsvc) == []
    assert (await idsvc.sign_up("rex_dog")).user.handle == "rex_dog"


async def test_a_character_event_for_a_handle_a_person_got_first_leaves_it_to_the_person(idsvc, caplog):
    """The race: a person signed up with the handle before identity heard of the character."""
    person = (await idsvc.sign_up("luna")).user
    character = str(uuid.uuid4())
    with caplog.at_level(logging.WARNING, logger="kinora.identity.handles"):
        deliver(idsvc, cameo_ev.CharacterCreated(cameo_id=character, handle="luna", owner_user_id=str(uuid.uuid4())))
    assert reserved(idsvc) == []
    assert f"character {character} claimed @luna, which a person already holds" in caplog.text
    # The person is untouched and still found by the handle.
    found = await idsvc.stub.GetUserByHandle(
        idpb.GetUserByHandleRequest(handle="luna"), metadata=idsvc.service_md("cameo")
    )
    assert found.user.id == person.id
    # A delete of that character changes nothing either.
    deliver(idsvc, cameo_ev.CharacterDeleted(cameo_id=character, handle="luna"))
    err = await refused_sign_up(idsvc, "luna")
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and err.details() == "the handle luna is taken"


async def test_two_characters_each_hold_their_own_handle(idsvc):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    deliver(idsvc, cameo_ev.CharacterCreated(cameo_id=a, handle="kit_cat", owner_user_id=str(uuid.uuid4())))
    deliver(idsvc, cameo_ev.CharacterCreated(cameo_id=b, handle="tin_robot", owner_user_id=str(uuid.uuid4())))
    deliver(idsvc, cameo_ev.CharacterDeleted(cameo_id=a, handle="kit_cat"))
    assert reserved(idsvc) == [("tin_robot", b)]
    assert (await idsvc.sign_up("kit_cat")).user.handle == "kit_cat"
    assert error_code_of(await refused_sign_up(idsvc, "tin_robot")) == "handle_taken"
