"""Identity over real gRPC on PostgreSQL: sign-up rules, sign-in, rate limits,
refresh rotation, key rotation, API keys, guardians and parental controls."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from identity_harness import Running, settings_for
from sqlalchemy import update

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import events_pb2
from kinora.identity.v1 import identity_pb2 as pb
from kinora.runtime.auth import TokenVerifier
from kinora.runtime.errors import Unauthenticated, error_code_of
from kinora.testing import bearer
from services.identity.models import invites, users

PASSWORD = "correct horse battery"


@pytest.fixture
async def idsvc(pg_url, tmp_path):
    async with Running(
        settings_for(pg_url, tmp_path / "blobs", signin_max_failures_account=3, signin_max_failures_address=6)
    ) as running:
        yield running


async def rpc_error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def years_ago(years: int, days: int = 0) -> str:
    today = date.today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return (born + timedelta(days=days)).isoformat()


def signup_request(code, handle="alice", **kw):
    values = dict(invite_code=code, handle=handle, password=PASSWORD, birthdate="1990-05-01", region="US")
    values.update(kw)
    return pb.SignUpRequest(**values)


async def test_sign_up_rules(idsvc):
    stub = idsvc.stub
    err = await rpc_error(stub.SignUp(signup_request("")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "invite" in err.details()
    err = await rpc_error(stub.SignUp(signup_request("NOSUCHCODE12")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and error_code_of(err) == "invalid_invite"

    code = await idsvc.invite()
    for bad in ("ab", "a" * 31, "has space", "emoji😀", "dash-es"):
        err = await rpc_error(stub.SignUp(signup_request(code, bad)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and error_code_of(err) == "invalid_handle", bad
    err = await rpc_error(stub.SignUp(signup_request(code, region="FR")))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "FR" in err.details()
    err = await rpc_error(stub.SignUp(signup_request(code, region="USA")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(stub.SignUp(signup_request(code, birthdate=years_ago(13, days=1))))  # 12, a day short
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and error_code_of(err) == "too_young"
    for bad in ("1990-13-01", "01/05/1990", "2999-01-01", ""):
        err = await rpc_error(stub.SignUp(signup_request(code, birthdate=bad)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and error_code_of(err) == "invalid_birthdate", bad
    err = await rpc_error(stub.SignUp(signup_request(code, password="short")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert idsvc.outbox() == []  # every refusal left nothing behind

    # Mixed case is folded; the invite is single-use.
    ok = await stub.SignUp(signup_request(f" {code.lower()} ", "Alice.Smith_1", display_name="Alice"))
    assert ok.user.handle == "alice.smith_1" and ok.user.age_group == common_pb2.AGE_GROUP_ADULT
    assert ok.tokens.access_token and ok.tokens.refresh_token.startswith("rt_")
    err = await rpc_error(stub.SignUp(signup_request(code, "bob")))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_code_of(err) == "invite_used"

    # Handles are unique case-insensitively, and a refused sign-up does not spend the invite.
    code2 = await idsvc.invite()
    err = await rpc_error(stub.SignUp(signup_request(code2, "ALICE.smith_1")))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    teen = await stub.SignUp(signup_request(code2, "teen_tom", birthdate=years_ago(13)))  # 13 today
    assert teen.user.age_group == common_pb2.AGE_GROUP_TEEN

    # Expired invite.
    code3 = await idsvc.invite()
    with idsvc.service.ctx.engine.begin() as c:
        c.execute(
            update(invites).where(invites.c.code == code3).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    err = await rpc_error(stub.SignUp(signup_request(code3, "carol")))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and error_code_of(err) == "invite_expired"

    created = [events_pb2.UserCreated.FromString(r.payload) for r in idsvc.outbox("kinora.identity.v1.UserCreated")]
    assert [e.user.handle for e in created] == ["alice.smith_1", "teen_tom"]
    # Teens start with safe parental controls, published for feed and cameo.
    [controls] = [
        events_pb2.ParentalControlsChanged.FromString(r.payload)
        for r in idsvc.outbox("kinora.identity.v1.ParentalControlsChanged")
    ]
    assert controls.teen_user_id == teen.user.id and controls.controls.non_personalized_feed
    assert controls.controls.max_cameo_policy == common_pb2.CAMEO_POLICY_APPROVED
    assert controls.controls.daily_feed_item_cap > 0


async def test_sign_in_never_reveals_accounts_and_is_rate_limited(idsvc):
    stub = idsvc.stub
    gateway = idsvc.service_md("gateway")  # only the gateway may state the client address

    def sign_in(handle: str, password: str, address: str):
        return stub.SignIn(pb.SignInRequest(handle=handle, password=password, client_address=address), metadata=gateway)

    await idsvc.sign_up("dana")
    ok = await sign_in("DANA", PASSWORD, "10.0.0.1")
    assert ok.user.handle == "dana" and ok.tokens.access_token

    wrong = await rpc_error(sign_in("dana", "wrong password", "10.0.0.1"))
    missing = await rpc_error(sign_in("nobody", "wrong password", "10.0.0.1"))
    assert wrong.code() == missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == missing.details() and error_code_of(wrong) == error_code_of(missing)

    # Per handle and client: 3 failures from one address back that address off, even for the right
    # password (tests/security/test_signin_backoff.py shows other addresses still get in).
    for _ in range(3):
        await rpc_error(sign_in("dana", "wrong password", "10.0.0.2"))
    locked = await rpc_error(sign_in("dana", PASSWORD, "10.0.0.2"))
    assert locked.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "try again" in locked.details()
    # The same limit applies to handles that do not exist: the lockout leaks nothing either.
    for _ in range(3):
        await rpc_error(sign_in("nobody", "x" * 9, "10.0.0.3"))
    ghost = await rpc_error(sign_in("nobody", "x" * 9, "10.0.0.3"))
    assert ghost.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and ghost.details() == locked.details()

    # Per address: 6 failures from one address across many handles block that address only.
    await idsvc.sign_up("erin")
    for i in range(6):
        await rpc_error(sign_in(f"guess{i}", "x" * 9, "10.9.9.9"))
    err = await rpc_error(sign_in("erin", PASSWORD, "10.9.9.9"))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await sign_in("erin", PASSWORD, "10.1.1.1")).user.handle == "erin"

    err = await rpc_error(stub.SignIn(pb.SignInRequest(handle="", password="")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_refresh_rotates_and_reuse_revokes_the_family(idsvc):
    stub = idsvc.stub
    first = (await idsvc.sign_up("fay")).tokens
    second = (await stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=first.refresh_token))).tokens
    assert second.refresh_token != first.refresh_token
    third = (await stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=second.refresh_token))).tokens

    # A spent token comes back (stolen): refused, and the live one from that sign-in dies too.
    err = await rpc_error(stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=first.refresh_token)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and error_code_of(err) == "refresh_token_reused"
    err = await rpc_error(stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=third.refresh_token)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and error_code_of(err) == "invalid_refresh_token"

    # Another sign-in is a separate family and survives; sign-out ends it.
    other = (await stub.SignIn(pb.SignInRequest(handle="fay", password=PASSWORD))).tokens
    nxt = (await stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=other.refresh_token))).tokens
    await stub.SignOut(pb.SignOutRequest(refresh_token=nxt.refresh_token))
    err = await rpc_error(stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=nxt.refresh_token)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED

    # all_sessions signs out every device.
    a = (await stub.SignIn(pb.SignInRequest(handle="fay", password=PASSWORD))).tokens
    b = (await stub.SignIn(pb.SignInRequest(handle="fay", password=PASSWORD))).tokens
    await stub.SignOut(pb.SignOutRequest(all_sessions=True), metadata=bearer(a.access_token))
    for t in (a, b):
        err = await rpc_error(stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token=t.refresh_token)))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    err = await rpc_error(stub.RefreshTokens(pb.RefreshTokensRequest(refresh_token="rt_made_up")))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    err = await rpc_error(stub.RefreshTokens(pb.RefreshTokensRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def remote_verifier(stub) -> TokenVerifier:
    """What another service does: a TokenVerifier fed by GetJwks over gRPC."""
    from google.protobuf.json_format import MessageToDict

    async def fetch():
        reply = await stub.GetJwks(pb.GetJwksRequest())
        return {"keys": [MessageToDict(k, preserving_proto_field_name=True) for k in reply.keys]}

    return TokenVerifier(fetch, min_refresh_s=0)


async def test_tokens_verify_elsewhere_and_key_rotation_logs_nobody_out(idsvc):
    stub = idsvc.stub
    signed_up = await idsvc.sign_up("gus")
    old_token = signed_up.tokens.access_token
    elsewhere = await remote_verifier(stub)
    who = await elsewhere.verify(old_token)
    assert who.subject == signed_up.user.id and who.kind == "user" and who.handle == "gus"
    # Identity verifies its own tokens with its local keys.
    me = await stub.GetUser(pb.GetUserRequest(user_id=signed_up.user.id), metadata=bearer(old_token))
    assert me.user.handle == "gus" and me.user.invites_remaining == 0  # not cameo-verified yet

    old_kid = (await stub.GetJwks(pb.GetJwksRequest())).keys[0].kid
    new_kid = await asyncio.to_thread(idsvc.service.keyring.rotate)
    jwks = await stub.GetJwks(pb.GetJwksRequest())
    assert [k.kid for k in jwks.keys] == [new_kid, old_kid] and jwks.max_age_seconds > 0
    assert all(k.kty == "OKP" and k.crv == "Ed25519" and k.alg == "EdDSA" for k in jwks.keys)

    new_token = (await stub.SignIn(pb.SignInRequest(handle="gus", password=PASSWORD))).tokens.access_token
    import jwt

    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    fresh_elsewhere = await remote_verifier(stub)  # a verifier that has never seen the old key
    for verifier in (elsewhere, fresh_elsewhere):
        assert (await verifier.verify(old_token)).subject == signed_up.user.id
        assert (await verifier.verify(new_token)).subject == signed_up.user.id
    await stub.GetUser(pb.GetUserRequest(user_id=signed_up.user.id), metadata=bearer(old_token))
    await stub.GetUser(pb.GetUserRequest(user_id=signed_up.user.id), metadata=bearer(new_token))

    # A token signed by a key identity never had is refused.
    from kinora.testing import LocalIssuer

    forged = LocalIssuer(kid=new_kid).token(signed_up.user.id)
    with pytest.raises(Unauthenticated):
        await fresh_elsewhere.verify(forged)
    err = await rpc_error(stub.GetUser(pb.GetUserRequest(user_id=signed_up.user.id), metadata=bearer(forged)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_api_key_lifecycle_and_exchange(idsvc):
    stub = idsvc.stub
    user = await idsvc.sign_up("hana")
    md = bearer(user.tokens.access_token)
    err = await rpc_error(stub.CreateApiKey(pb.CreateApiKeyRequest(name="ci", scopes=["videos:destroy"]), metadata=md))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "videos:destroy" in err.details()
    err = await rpc_error(stub.CreateApiKey(pb.CreateApiKeyRequest(name="ci"), metadata=md))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(stub.CreateApiKey(pb.CreateApiKeyRequest(name="ci", scopes=["videos:read"])))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED

    created = await stub.CreateApiKey(
        pb.CreateApiKeyRequest(name="ci", scopes=["videos:write", "videos:read"]), metadata=md
    )
    assert created.secret.startswith(created.api_key.prefix + "_") and len(created.secret) > 40
    listed = (await stub.ListApiKeys(pb.ListApiKeysRequest(), metadata=md)).api_keys
    assert [k.id for k in listed] == [created.api_key.id] and not listed[0].HasField("last_used_at")
    assert "secret" not in str(listed[0]).lower() and created.secret not in str(listed[0])

    # Only the gateway may exchange; the token is an "apikey" token with the key's scopes.
    err = await rpc_error(stub.ExchangeApiKey(pb.ExchangeApiKeyRequest(secret=created.secret), metadata=md))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    gateway = idsvc.service_md("gateway")
    exchanged = await stub.ExchangeApiKey(pb.ExchangeApiKeyRequest(secret=created.secret), metadata=gateway)
    assert exchanged.user_id == user.user.id and sorted(exchanged.scopes) == ["videos:read", "videos:write"]
    who = await (await remote_verifier(stub)).verify(exchanged.access_token)
    assert who.kind == "apikey" and who.scopes == {"videos:read", "videos:write"}
    assert (await stub.ListApiKeys(pb.ListApiKeysRequest(), metadata=md)).api_keys[0].HasField("last_used_at")
    # An API-key token cannot mint more keys.
    err = await rpc_error(
        stub.CreateApiKey(
            pb.CreateApiKeyRequest(name="x", scopes=["videos:read"]), metadata=bearer(exchanged.access_token)
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    other = await idsvc.sign_up("ivan")
    err = await rpc_error(
        stub.RevokeApiKey(
            pb.RevokeApiKeyRequest(api_key_id=created.api_key.id), metadata=bearer(other.tokens.access_token)
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    revoked = await stub.RevokeApiKey(pb.RevokeApiKeyRequest(api_key_id=created.api_key.id), metadata=md)
    assert revoked.api_key.HasField("revoked_at")
    err = await rpc_error(stub.ExchangeApiKey(pb.ExchangeApiKeyRequest(secret=created.secret), metadata=gateway))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in err.details()
    err = await rpc_error(stub.ExchangeApiKey(pb.ExchangeApiKeyRequest(secret="kin_nope_nope"), metadata=gateway))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_api_key_webhook_set_read_by_the_gateway_and_deleted(idsvc):
    stub = idsvc.stub
    owner = await idsvc.sign_up("kiri")
    md = bearer(owner.tokens.access_token)
    key = (await stub.CreateApiKey(pb.CreateApiKeyRequest(name="hooks", scopes=["videos:write"]), metadata=md)).api_key
    gateway = idsvc.service_md("gateway")

    # Bad input: a clear error, and nothing stored.
    for bad, words in (
        ("", "required"),
        ("ftp://example.com/hook", "http"),
        ("https://", "host"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com:99999/", "valid"),
        ("https://example.com/" + "a" * 2048, "2,048"),
    ):
        err = await rpc_error(
            stub.SetApiKeyWebhook(pb.SetApiKeyWebhookRequest(api_key_id=key.id, url=bad), metadata=md)
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and words in err.details(), (bad, err.details())
    err = await rpc_error(stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=md))
    assert err.code() == grpc.StatusCode.NOT_FOUND and error_code_of(err) == "no_webhook"
    err = await rpc_error(
        stub.SetApiKeyWebhook(pb.SetApiKeyWebhookRequest(api_key_id="", url="https://x.test/h"), metadata=md)
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT

    hook = (
        await stub.SetApiKeyWebhook(pb.SetApiKeyWebhookRequest(api_key_id=key.id, url="https://x.test/h"), metadata=md)
    ).webhook
    assert hook.url == "https://x.test/h" and hook.secret.startswith("whsec_") and hook.HasField("updated_at")
    # The owner reads it back without the secret; the gateway with it (it signs the deliveries).
    mine = (await stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=md)).webhook
    assert mine.url == hook.url and mine.secret == ""
    seen = (await stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=gateway)).webhook
    assert seen.secret == hook.secret
    err = await rpc_error(
        stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=idsvc.service_md("feed"))
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # Setting it again gives a new secret.
    again = (
        await stub.SetApiKeyWebhook(pb.SetApiKeyWebhookRequest(api_key_id=key.id, url="http://x.test/2"), metadata=md)
    ).webhook
    assert again.secret != hook.secret and again.url == "http://x.test/2"

    # Someone else's key is not theirs to see or change.
    other = bearer((await idsvc.sign_up("lior")).tokens.access_token)
    for call in (
        stub.SetApiKeyWebhook(pb.SetApiKeyWebhookRequest(api_key_id=key.id, url="https://evil.test/"), metadata=other),
        stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=other),
        stub.DeleteApiKeyWebhook(pb.DeleteApiKeyWebhookRequest(api_key_id=key.id), metadata=other),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
    assert (
        await stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=gateway)
    ).webhook.url == "http://x.test/2"

    # The key's own (exchanged) token may manage it, as the gateway's /v1/webhooks does.
    secret = (await stub.CreateApiKey(pb.CreateApiKeyRequest(name="k2", scopes=["videos:read"]), metadata=md)).secret
    exchanged = await stub.ExchangeApiKey(pb.ExchangeApiKeyRequest(secret=secret), metadata=gateway)
    as_key = bearer(exchanged.access_token)
    await stub.SetApiKeyWebhook(
        pb.SetApiKeyWebhookRequest(api_key_id=exchanged.api_key_id, url="https://k2.test/"), metadata=as_key
    )
    assert (
        await stub.DeleteApiKeyWebhook(pb.DeleteApiKeyWebhookRequest(api_key_id=exchanged.api_key_id), metadata=as_key)
    ).deleted

    # A revoked key's endpoint is no longer handed to the gateway, and cannot be set.
    await stub.RevokeApiKey(pb.RevokeApiKeyRequest(api_key_id=key.id), metadata=md)
    err = await rpc_error(stub.GetApiKeyWebhook(pb.GetApiKeyWebhookRequest(api_key_id=key.id), metadata=gateway))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rpc_error(
        stub.SetApiKeyWebhook(pb.SetApiKeyWebhookRequest(api_key_id=key.id, url="https://x.test/3"), metadata=md)
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "revoked" in err.details()
    assert (await stub.DeleteApiKeyWebhook(pb.DeleteApiKeyWebhookRequest(api_key_id=key.id), metadata=md)).deleted
    assert not (await stub.DeleteApiKeyWebhook(pb.DeleteApiKeyWebhookRequest(api_key_id=key.id), metadata=md)).deleted


async def test_invites_for_verified_users(idsvc):
    stub = idsvc.stub
    user = await idsvc.sign_up("jude")
    md = bearer(user.tokens.access_token)
    err = await rpc_error(stub.CreateInvite(pb.CreateInviteRequest(), metadata=md))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "verify" in err.details()
    with idsvc.service.ctx.engine.begin() as c:
        c.execute(update(users).where(users.c.id == user.user.id).values(cameo_verified=True))
    codes = [
        (await stub.CreateInvite(pb.CreateInviteRequest(), metadata=md)).invite.code
        for _ in range(idsvc.settings.invites_per_user)
    ]
    err = await rpc_error(stub.CreateInvite(pb.CreateInviteRequest(), metadata=md))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    page1 = await stub.ListInvites(pb.ListInvitesRequest(page=common_pb2.PageRequest(page_size=3)), metadata=md)
    page2 = await stub.ListInvites(
        pb.ListInvitesRequest(page=common_pb2.PageRequest(page_size=3, page_token=page1.next_page_token)), metadata=md
    )
    assert sorted(i.code for i in [*page1.invites, *page2.invites]) == sorted(codes) and not page2.next_page_token
    err = await rpc_error(
        stub.ListInvites(pb.ListInvitesRequest(page=common_pb2.PageRequest(page_token="junk!")), metadata=md)
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    friend = await stub.SignUp(signup_request(codes[0], "kim"))
    [created] = [
        events_pb2.UserCreated.FromString(r.payload)
        for r in idsvc.outbox("kinora.identity.v1.UserCreated")
        if events_pb2.UserCreated.FromString(r.payload).user.id == friend.user.id
    ]
    assert created.invited_by_user_id == user.user.id
    me = await stub.GetUser(pb.GetUserRequest(user_id=user.user.id), metadata=md)
    assert me.user.invites_remaining == 0


async def test_guardian_link_controls_and_unlink(idsvc):
    stub = idsvc.stub
    parent = await idsvc.sign_up("parent")
    teen = await idsvc.sign_up("kid", birthdate=years_ago(15))
    stranger = await idsvc.sign_up("stranger")
    pmd, tmd, smd = (bearer(x.tokens.access_token) for x in (parent, teen, stranger))

    err = await rpc_error(stub.StartGuardianLink(pb.StartGuardianLinkRequest(role=pb.GUARDIAN_ROLE_TEEN), metadata=pmd))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    started = await stub.StartGuardianLink(pb.StartGuardianLinkRequest(role=pb.GUARDIAN_ROLE_TEEN), metadata=tmd)
    assert started.link.status == pb.GUARDIAN_LINK_STATUS_PENDING and len(started.code) == 8
    err = await rpc_error(stub.ConfirmGuardianLink(pb.ConfirmGuardianLinkRequest(code=started.code), metadata=tmd))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION  # the other side must confirm
    linked = await stub.ConfirmGuardianLink(pb.ConfirmGuardianLinkRequest(code=started.code.lower()), metadata=pmd)
    assert linked.link.status == pb.GUARDIAN_LINK_STATUS_ACTIVE and linked.link.guardian_user_id == parent.user.id
    err = await rpc_error(stub.ConfirmGuardianLink(pb.ConfirmGuardianLinkRequest(code=started.code), metadata=smd))
    assert err.code() == grpc.StatusCode.NOT_FOUND  # single use
    seen = (await stub.GetUser(pb.GetUserRequest(user_id=teen.user.id), metadata=pmd)).user
    assert seen.guardian_user_id == parent.user.id

    # Defaults are safe; only the guardian may change them; teen and services may read them.
    got = (
        await stub.GetParentalControls(pb.GetParentalControlsRequest(teen_user_id=teen.user.id), metadata=tmd)
    ).controls
    assert got.non_personalized_feed and got.max_cameo_policy == common_pb2.CAMEO_POLICY_APPROVED
    new = pb.ParentalControls(
        daily_feed_item_cap=20, non_personalized_feed=False, max_cameo_policy=common_pb2.CAMEO_POLICY_MUTUALS
    )
    for md, code in ((tmd, grpc.StatusCode.PERMISSION_DENIED), (smd, grpc.StatusCode.PERMISSION_DENIED)):
        err = await rpc_error(
            stub.SetParentalControls(
                pb.SetParentalControlsRequest(teen_user_id=teen.user.id, controls=new), metadata=md
            )
        )
        assert err.code() == code
    bad = pb.ParentalControls(daily_feed_item_cap=-1, max_cameo_policy=common_pb2.CAMEO_POLICY_MUTUALS)
    err = await rpc_error(
        stub.SetParentalControls(pb.SetParentalControlsRequest(teen_user_id=teen.user.id, controls=bad), metadata=pmd)
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(
        stub.SetParentalControls(
            pb.SetParentalControlsRequest(
                teen_user_id=teen.user.id, controls=pb.ParentalControls(daily_feed_item_cap=5)
            ),
            metadata=pmd,
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "max_cameo_policy" in err.details()
    set_ = await stub.SetParentalControls(
        pb.SetParentalControlsRequest(teen_user_id=teen.user.id, controls=new), metadata=pmd
    )
    assert set_.controls.daily_feed_item_cap == 20 and set_.controls.updated_by_user_id == parent.user.id
    svc = await stub.GetParentalControls(
        pb.GetParentalControlsRequest(teen_user_id=teen.user.id), metadata=idsvc.service_md("feed")
    )
    assert svc.controls.max_cameo_policy == common_pb2.CAMEO_POLICY_MUTUALS
    err = await rpc_error(
        stub.GetParentalControls(pb.GetParentalControlsRequest(teen_user_id=teen.user.id), metadata=smd)
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    # Only the guardian unlinks (tests/security/test_teen_controls.py has the rest); the event records it.
    err = await rpc_error(stub.UnlinkGuardian(pb.UnlinkGuardianRequest(link_id=linked.link.id), metadata=smd))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rpc_error(stub.UnlinkGuardian(pb.UnlinkGuardianRequest(link_id=linked.link.id), metadata=tmd))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    gone = await stub.UnlinkGuardian(pb.UnlinkGuardianRequest(link_id=linked.link.id), metadata=pmd)
    assert gone.link.status == pb.GUARDIAN_LINK_STATUS_UNLINKED and gone.link.unlinked_by_user_id == parent.user.id
    err = await rpc_error(
        stub.SetParentalControls(pb.SetParentalControlsRequest(teen_user_id=teen.user.id, controls=new), metadata=pmd)
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    types = [r.event_type.rsplit(".", 1)[-1] for r in idsvc.outbox() if r.aggregate_id == teen.user.id]
    assert types == [
        "UserCreated",
        "ParentalControlsChanged",
        "GuardianLinked",
        "UserUpdated",
        "ParentalControlsChanged",
        "GuardianUnlinked",
        "UserUpdated",
    ]
    [unlinked] = [
        events_pb2.GuardianUnlinked.FromString(r.payload) for r in idsvc.outbox("kinora.identity.v1.GuardianUnlinked")
    ]
    assert unlinked.guardian_user_id == parent.user.id and unlinked.unlinked_by_user_id == parent.user.id
    [changed] = [
        events_pb2.ParentalControlsChanged.FromString(r.payload)
        for r in idsvc.outbox("kinora.identity.v1.ParentalControlsChanged")
    ][1:]
    assert changed.guardian_user_id == parent.user.id and changed.controls.daily_feed_item_cap == 20


async def test_profiles_and_validation(idsvc):
    stub = idsvc.stub
    a = await idsvc.sign_up("lena")
    b = await idsvc.sign_up("marc")
    md = bearer(a.tokens.access_token)
    err = await rpc_error(stub.GetUser(pb.GetUserRequest(user_id=b.user.id)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    other = await stub.GetUserByHandle(pb.GetUserByHandleRequest(handle="MARC"), metadata=md)
    assert other.user.id == b.user.id and other.user.invites_remaining == 0
    err = await rpc_error(stub.GetUserByHandle(pb.GetUserByHandleRequest(handle="nobody_here"), metadata=md))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    batch = await stub.BatchGetUsers(pb.BatchGetUsersRequest(user_ids=[b.user.id, "missing", a.user.id]), metadata=md)
    assert [u.handle for u in batch.users] == ["marc", "lena"]
    updated = await stub.UpdateProfile(pb.UpdateProfileRequest(display_name="Lena L."), metadata=md)
    assert updated.user.display_name == "Lena L."
    err = await rpc_error(stub.UpdateProfile(pb.UpdateProfileRequest(display_name="  "), metadata=md))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    [event] = [events_pb2.UserUpdated.FromString(r.payload) for r in idsvc.outbox("kinora.identity.v1.UserUpdated")]
    assert event.user.display_name == "Lena L."


async def test_the_same_person_signing_in_from_one_place_at_once_never_deadlocks(pg_url, tmp_path):
    """Counting locks the address row then the handle@address row; a success used to give them
    back in the other order, so two sign-ins of one person from one phone (two tabs, a retry)
    deadlocked and one answered INTERNAL. Wrong passwords interleaved sweep stale rows as well."""
    limits = dict(signin_max_failures_account=1000, signin_max_failures_address=1000)
    async with Running(settings_for(pg_url, tmp_path / "blobs", **limits)) as running:
        await running.sign_up("gus")
        gateway = running.service_md("gateway")

        async def attempt(password: str):
            try:
                reply = await running.stub.SignIn(
                    pb.SignInRequest(handle="gus", password=password, client_address="10.7.7.7"), metadata=gateway
                )
                return "ok" if reply.tokens.access_token else "empty"
            except grpc.aio.AioRpcError as err:
                return err.code().name

        for _ in range(3):
            outcomes = await asyncio.gather(*(attempt(PASSWORD if i % 4 else "not the password") for i in range(24)))
            assert sorted(set(outcomes)) == ["UNAUTHENTICATED", "ok"], outcomes
            assert outcomes.count("ok") == 18
