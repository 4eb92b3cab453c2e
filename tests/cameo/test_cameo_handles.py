"""Cameo asks identity whether a person holds a handle before a character takes it
(services/cameo/handles.py): over real gRPC to the real identity service, with cameo's own
service token; an identity that cannot be reached refuses the creation with a clear error."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from kinora.runtime.auth import mint_service_token
from kinora.runtime.clients import TokenSource
from kinora.runtime.errors import Unavailable
from kinora.stack.tansu import free_port
from services.cameo.handles import IdentityHandles, nobody, person_check

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))
from identity_harness import INTERNAL_SECRET, Running, settings_for  # noqa: E402


def cameo_tokens() -> TokenSource:
    async def fetch():
        return mint_service_token("cameo", INTERNAL_SECRET)

    return TokenSource(fetch)


async def test_identity_says_which_handles_people_hold(pg_url, tmp_path):
    async with Running(settings_for(pg_url, tmp_path / "blobs")) as idsvc:
        await idsvc.sign_up("mira")
        people = IdentityHandles.from_settings(f"127.0.0.1:{idsvc.service.app.port}", cameo_tokens())
        assert people is not None
        assert await people.person_holds("mira") and not await people.person_holds("mira_the_cat")
        # From a worker thread, as a character creation asks (its transaction runs there).
        holds = person_check(people)
        assert await asyncio.to_thread(holds, "mira") and not await asyncio.to_thread(holds, "nobody_here")


async def test_an_unreachable_identity_refuses_rather_than_guesses():
    people = IdentityHandles(f"127.0.0.1:{free_port()}", cameo_tokens())
    with pytest.raises(Unavailable) as refused:
        await people.person_holds("mira")
    assert refused.value.code == "identity_unavailable"
    assert refused.value.message == (
        "cannot check with the accounts service that the handle is free; try again in a moment"
    )


def test_without_an_identity_address_or_credentials_only_cameos_copy_is_asked():
    assert IdentityHandles.from_settings(None, cameo_tokens()) is None
    assert IdentityHandles.from_settings("127.0.0.1:1", None) is None
    assert person_check(None) is nobody
