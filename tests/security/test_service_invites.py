"""Invites by services are off unless the operator turns them on (issue 20, part 2).

Before: KINORA_SERVICE_INVITES defaulted to on, so whoever held the shared internal secret
could mint a service token and with it unlimited invites."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import grpc

from kinora.identity.v1 import identity_pb2 as pb
from kinora.runtime.auth import mint_service_token
from kinora.testing import bearer
from services.identity.settings import IdentitySettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))
from identity_harness import INTERNAL_SECRET, Running, settings_for  # noqa: E402


def test_the_default_is_off():
    assert next(f for f in dataclasses.fields(IdentitySettings) if f.name == "service_invites").default is False


async def test_a_service_token_mints_no_invite_by_default(pg_url, tmp_path):
    defaults = dataclasses.replace(settings_for(pg_url, tmp_path / "blobs"), service_invites=False)
    async with Running(defaults) as idsvc:
        token = mint_service_token("admin", INTERNAL_SECRET)[0]
        try:
            await idsvc.stub.CreateInvite(pb.CreateInviteRequest(), metadata=bearer(token))
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "KINORA_SERVICE_INVITES" in err.details()
        else:
            raise AssertionError("a service token minted an invite with the default settings")
