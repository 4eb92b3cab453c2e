"""Every RPC x every kind of caller, each cell written down and checked.

Callers: anonymous, another adult, the owner of the resource the request
names, a teen, the teen's guardian, an API-key token of the owner (all
scopes) and an internal service token (generator's). Tokens are real: signup,
sign-in and ExchangeApiKey through identity; the service token is signed with
the cluster's internal secret.

Cells: A allowed (OK) · V past authorisation but refused on the request's
content or state (INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS,
ABORTED) · U UNAUTHENTICATED · D PERMISSION_DENIED · N NOT_FOUND (the
resource is hidden from that caller).

KINORA_AUTHZ_OBSERVE=1 prints the observed matrix instead of checking it."""

from __future__ import annotations

import os
import uuid

import grpc
from google.protobuf.message_factory import GetMessageClass

from kinora.billing.v1 import billing_pb2 as bl
from kinora.cameo.v1 import cameo_pb2 as ca
from kinora.common.v1 import common_pb2 as co
from kinora.feed.v1 import feed_pb2 as fe
from kinora.generator.v1 import generator_pb2 as ge
from kinora.identity.v1 import identity_pb2 as idn

CALLERS = ("anonymous", "other", "owner", "teen", "guardian", "apikey", "service")
RUN_ORDER = ("anonymous", "other", "teen", "guardian", "apikey", "service", "owner")  # the owner last: deletes
CODES = {
    grpc.StatusCode.OK: "A",
    grpc.StatusCode.UNAUTHENTICATED: "U",
    grpc.StatusCode.PERMISSION_DENIED: "D",
    grpc.StatusCode.NOT_FOUND: "N",
    grpc.StatusCode.INVALID_ARGUMENT: "V",
    grpc.StatusCode.FAILED_PRECONDITION: "V",
    grpc.StatusCode.ALREADY_EXISTS: "V",
    grpc.StatusCode.ABORTED: "V",
}
PAGE = co.PageRequest(page_size=5)


def _key():
    return uuid.uuid4().hex


# rpc -> (request built from the principals, expected cells in CALLERS order).
# Destructive calls come last, so earlier rows still find their resources.
MATRIX = {
    # identity                                                  anon other owner teen guard apikey service
    "identity.IdentityService/SignUp": (lambda P: idn.SignUpRequest(), "V V V V V V V"),
    "identity.IdentityService/SignIn": (
        lambda P: idn.SignInRequest(handle=P.owner["handle"], password="correct horse battery"),
        "A A A A A A A",
    ),
    "identity.IdentityService/RefreshTokens": (lambda P: idn.RefreshTokensRequest(refresh_token="x"), "U U U U U U U"),
    "identity.IdentityService/GetJwks": (lambda P: idn.GetJwksRequest(), "A A A A A A A"),
    "identity.IdentityService/ListRevokedSessions": (lambda P: idn.ListRevokedSessionsRequest(), "A A A A A A A"),
    "identity.IdentityService/GetUser": (lambda P: idn.GetUserRequest(user_id=P.owner["id"]), "U A A A A A A"),
    "identity.IdentityService/GetUserByHandle": (
        lambda P: idn.GetUserByHandleRequest(handle=P.owner["handle"]),
        "U A A A A A A",
    ),
    "identity.IdentityService/BatchGetUsers": (
        lambda P: idn.BatchGetUsersRequest(user_ids=[P.owner["id"]]),
        "U A A A A A A",
    ),
    "identity.IdentityService/UpdateProfile": (
        lambda P: idn.UpdateProfileRequest(display_name="Someone"),
        "U A A A A D U",
    ),
    # A wrong password (D: nothing changes); only a signed-in person, never an API key or a service.
    "identity.IdentityService/ChangePassword": (
        lambda P: idn.ChangePasswordRequest(current_password="not the password", new_password="another horse battery"),
        "U D D D D D U",
    ),
    "identity.IdentityService/DeleteAccount": (
        lambda P: idn.DeleteAccountRequest(password="not the password"),
        "U D D D D D U",
    ),
    "identity.IdentityService/CreateInvite": (lambda P: idn.CreateInviteRequest(), "U V V V V D A"),
    "identity.IdentityService/ListInvites": (lambda P: idn.ListInvitesRequest(page=PAGE), "U A A A A D U"),
    "identity.IdentityService/CreateApiKey": (
        lambda P: idn.CreateApiKeyRequest(name="k", scopes=["feed:read"]),
        "U A A A A D U",
    ),
    "identity.IdentityService/ListApiKeys": (lambda P: idn.ListApiKeysRequest(page=PAGE), "U A A A A D U"),
    "identity.IdentityService/ExchangeApiKey": (lambda P: idn.ExchangeApiKeyRequest(secret="wrong"), "U D D D D D D"),
    # A key's webhook: its owner, signed in or with the key's token; only the gateway reads the secret.
    "identity.IdentityService/SetApiKeyWebhook": (
        lambda P: idn.SetApiKeyWebhookRequest(api_key_id=P.api_key_id, url="https://hooks.example/kinora"),
        "U N A N N A U",
    ),
    "identity.IdentityService/GetApiKeyWebhook": (
        lambda P: idn.GetApiKeyWebhookRequest(api_key_id=P.api_key_id),
        "U N A N N A D",
    ),
    "identity.IdentityService/DeleteApiKeyWebhook": (
        lambda P: idn.DeleteApiKeyWebhookRequest(api_key_id=P.api_key_id),
        "U N A N N A U",
    ),
    "identity.IdentityService/StartGuardianLink": (
        lambda P: idn.StartGuardianLinkRequest(role=idn.GUARDIAN_ROLE_GUARDIAN),
        "U A A V A D U",
    ),
    "identity.IdentityService/ConfirmGuardianLink": (
        lambda P: idn.ConfirmGuardianLinkRequest(code="nope"),
        "U N N N N D U",
    ),
    # The link is active, not awaiting an approval: the two in it get past authorisation only.
    "identity.IdentityService/ApproveGuardianLink": (
        lambda P: idn.ApproveGuardianLinkRequest(link_id=P.guardian_link_id),
        "U N N V V D U",
    ),
    "identity.IdentityService/ListGuardianLinks": (lambda P: idn.ListGuardianLinksRequest(), "U A A A A D U"),
    "identity.IdentityService/SetParentalControls": (
        lambda P: idn.SetParentalControlsRequest(
            teen_user_id=P.teen["id"],
            controls=idn.ParentalControls(daily_feed_item_cap=10, max_cameo_policy=co.CAMEO_POLICY_ONLY_ME),
        ),
        "U D D D A D U",
    ),
    "identity.IdentityService/GetParentalControls": (
        lambda P: idn.GetParentalControlsRequest(teen_user_id=P.teen["id"]),
        "U D D A A D A",
    ),
    # API keys with cameos:write may verify (the Sora SDK's create_character).
    "identity.IdentityService/StartVerification": (lambda P: idn.StartVerificationRequest(), "U A A A A A U"),
    "identity.IdentityService/SubmitVerification": (
        lambda P: idn.SubmitVerificationRequest(verification_id=str(uuid.uuid4())),
        "U V V V V V U",
    ),
    "identity.IdentityService/GetVerification": (
        lambda P: idn.GetVerificationRequest(verification_id=str(uuid.uuid4())),
        "U N N N N N N",
    ),
    # Enrolled faces are probed by the generator alone: people never learn whose face a picture is.
    "identity.IdentityService/MatchFaces": (lambda P: idn.MatchFacesRequest(), "U D D D D D A"),
    # cameo
    "cameo.CameoService/GetCameo": (lambda P: ca.GetCameoRequest(cameo_id=P.cameo_id), "U A A A A A A"),
    "cameo.CameoService/ListCameos": (lambda P: ca.ListCameosRequest(page=PAGE), "U A A A A A U"),
    "cameo.CameoService/UpdateCameo": (
        lambda P: ca.UpdateCameoRequest(cameo_id=P.cameo_id, display_name="Owner"),
        "U D A D D A U",
    ),
    "cameo.CameoService/SetPolicy": (
        lambda P: ca.SetPolicyRequest(cameo_id=P.cameo_id, policy=co.CAMEO_POLICY_APPROVED),
        "U D A D D A U",
    ),
    "cameo.CameoService/RequestApproval": (
        lambda P: ca.RequestApprovalRequest(cameo_id=P.cameo_id, message="hi"),
        "U A V A A V U",
    ),
    "cameo.CameoService/Approve": (
        lambda P: ca.ApproveRequest(cameo_id=P.cameo_id, user_id=P.other["id"]),
        "U D A D D A U",
    ),
    "cameo.CameoService/Deny": (
        lambda P: ca.DenyRequest(cameo_id=P.cameo_id, user_id=P.guardian["id"]),
        "U D A D D A U",
    ),
    "cameo.CameoService/ListApprovals": (
        lambda P: ca.ListApprovalsRequest(cameo_id=P.cameo_id, page=PAGE),
        "U D A D D A U",
    ),
    "cameo.CameoService/BlockUser": (
        lambda P: ca.BlockUserRequest(cameo_id=P.cameo_id, user_id=P.guardian["id"]),
        "U D A D D A U",
    ),
    "cameo.CameoService/UnblockUser": (
        lambda P: ca.UnblockUserRequest(cameo_id=P.cameo_id, user_id=P.guardian["id"]),
        "U D N D D A U",
    ),
    "cameo.CameoService/ListBlockedUsers": (
        lambda P: ca.ListBlockedUsersRequest(cameo_id=P.cameo_id, page=PAGE),
        "U D A D D A U",
    ),
    "cameo.CameoService/AddRestriction": (
        lambda P: ca.AddRestrictionRequest(cameo_id=P.cameo_id, text="never in political content"),
        "U D A D D A U",
    ),
    "cameo.CameoService/ListRestrictions": (lambda P: ca.ListRestrictionsRequest(cameo_id=P.cameo_id), "U A A A A A A"),
    "cameo.CameoService/RemoveRestriction": (
        lambda P: ca.RemoveRestrictionRequest(cameo_id=P.cameo_id, restriction_id=str(uuid.uuid4())),
        "U D N D D N U",
    ),
    "cameo.CameoService/CheckUse": (
        lambda P: ca.CheckUseRequest(requester_user_id=P.other["id"], cameo_ids=[P.cameo_id], prompt="a walk"),
        "U A D D D D A",
    ),
    # A check on someone else's behalf fails alone, inside the call's results.
    "cameo.CameoService/BatchCheckUse": (
        lambda P: ca.BatchCheckUseRequest(
            checks=[ca.CheckUseRequest(requester_user_id=P.other["id"], cameo_ids=[P.cameo_id], prompt="a walk")]
        ),
        "U A A A A A A",
    ),
    "cameo.CameoService/ListAppearances": (
        lambda P: ca.ListAppearancesRequest(cameo_id=P.cameo_id, page=PAGE),
        "U D A D D A U",
    ),
    "cameo.CameoService/DeleteAppearance": (
        lambda P: ca.DeleteAppearanceRequest(appearance_id=str(uuid.uuid4())),
        "U N N N N N U",
    ),
    "cameo.CameoService/ListNotifications": (lambda P: ca.ListNotificationsRequest(page=PAGE), "U A A A A A U"),
    "cameo.CameoService/MarkNotificationsRead": (lambda P: ca.MarkNotificationsReadRequest(), "U A A A A A U"),
    "cameo.CameoService/ListAuditLog": (
        lambda P: ca.ListAuditLogRequest(cameo_id=P.cameo_id, page=PAGE),
        "U D A D D A U",
    ),
    "cameo.CameoService/GetLikeness": (lambda P: ca.GetLikenessRequest(cameo_id=P.cameo_id), "U D D D D D A"),
    # A signed-in person (or a key's token: the gateway asks for cameos:write) makes their own; no upload: V.
    "cameo.CameoService/CreateCharacter": (lambda P: ca.CreateCharacterRequest(name="Rex"), "U V V V V V U"),
    "cameo.CameoService/RemoveApproval": (
        lambda P: ca.RemoveApprovalRequest(cameo_id=P.cameo_id, user_id=P.other["id"]),
        "U D N D D A U",
    ),
    "cameo.CameoService/RevokeAccess": (
        lambda P: ca.RevokeAccessRequest(cameo_id=P.cameo_id, user_id=P.other["id"]),
        "U D A D D A U",
    ),
    # feed
    "feed.FeedService/GetPost": (lambda P: fe.GetPostRequest(post_id=P.post_id), "U A A A A A U"),
    "feed.FeedService/ListUserPosts": (
        lambda P: fe.ListUserPostsRequest(user_id=P.owner["id"], page=PAGE),
        "U A A A A A U",
    ),
    "feed.FeedService/GetFeed": (lambda P: fe.GetFeedRequest(page=PAGE), "U A A A A A U"),
    "feed.FeedService/SetFeedPreferences": (
        lambda P: fe.SetFeedPreferencesRequest(text="more sports"),
        "U A A A A A U",
    ),
    "feed.FeedService/GetFeedPreferences": (lambda P: fe.GetFeedPreferencesRequest(), "U A A A A A U"),
    "feed.FeedService/RecordViews": (
        lambda P: fe.RecordViewsRequest(views=[fe.PostView(post_id=P.post_id, watch_ms=1000)]),
        "U A A A A A U",
    ),
    "feed.FeedService/Follow": (lambda P: fe.FollowRequest(user_id=P.owner["id"]), "U A V A A V U"),
    "feed.FeedService/ListFollowers": (
        lambda P: fe.ListFollowersRequest(user_id=P.owner["id"], page=PAGE),
        "U A A A A A U",
    ),
    "feed.FeedService/ListFollowing": (
        lambda P: fe.ListFollowingRequest(user_id=P.owner["id"], page=PAGE),
        "U A A A A A U",
    ),
    "feed.FeedService/ListMutuals": (
        lambda P: fe.ListMutualsRequest(user_id=P.owner["id"], page=PAGE),
        "U A A A A A U",
    ),
    "feed.FeedService/Unfollow": (lambda P: fe.UnfollowRequest(user_id=P.owner["id"]), "U A V A A V U"),
    "feed.FeedService/BlockUser": (lambda P: fe.BlockUserRequest(user_id=P.guardian["id"]), "U A A A V A U"),
    "feed.FeedService/UnblockUser": (lambda P: fe.UnblockUserRequest(user_id=P.guardian["id"]), "U A A A V A U"),
    "feed.FeedService/LikePost": (lambda P: fe.LikePostRequest(post_id=P.post_id), "U A A A A A U"),
    "feed.FeedService/UnlikePost": (lambda P: fe.UnlikePostRequest(post_id=P.post_id), "U A A A A A U"),
    "feed.FeedService/CreateComment": (
        lambda P: fe.CreateCommentRequest(post_id=P.post_id, text="nice one"),
        "U A A A A A U",
    ),
    "feed.FeedService/ListComments": (lambda P: fe.ListCommentsRequest(post_id=P.post_id, page=PAGE), "U A A A A A U"),
    "feed.FeedService/DeleteComment": (
        lambda P: fe.DeleteCommentRequest(comment_id=str(uuid.uuid4())),
        "U N N N N N U",
    ),
    "feed.FeedService/SeeLess": (lambda P: fe.SeeLessRequest(post_id=P.post_id), "U A A A A A U"),
    "feed.FeedService/ReportPost": (
        lambda P: fe.ReportPostRequest(post_id=P.post_id, reason=fe.REPORT_REASON_SPAM),
        "U A A A A A U",
    ),
    "feed.FeedService/GetRemixes": (lambda P: fe.GetRemixesRequest(post_id=P.post_id), "U A A A A A U"),
    # Asked by the generator before someone else's clip becomes a remix source.
    "feed.FeedService/CanViewGeneration": (
        lambda P: fe.CanViewGenerationRequest(viewer_user_id=P.other["id"], generation_id=P.generation_id),
        "U D D D D D A",
    ),
    "feed.FeedService/PublishPost": (
        lambda P: fe.PublishPostRequest(generation_id=P.generation_id, visibility=fe.VISIBILITY_PUBLIC),
        "U D V D D V U",
    ),
    "feed.FeedService/UnpublishPost": (lambda P: fe.UnpublishPostRequest(post_id=P.post_id), "U D V D D A U"),
    # generator
    "generator.GeneratorService/GetGeneration": (
        lambda P: ge.GetGenerationRequest(generation_id=P.generation_id),
        "U N A N N A A",
    ),
    "generator.GeneratorService/ListGenerations": (lambda P: ge.ListGenerationsRequest(page=PAGE), "U A A A A A U"),
    "generator.GeneratorService/StreamGeneration": (
        lambda P: ge.StreamGenerationRequest(generation_id=P.generation_id),
        "U N A N N A A",
    ),
    "generator.GeneratorService/CreateMediaDownloadToken": (
        lambda P: ge.CreateMediaDownloadTokenRequest(generation_id=P.generation_id),
        "U N V N N V V",
    ),
    "generator.GeneratorService/GetMedia": (
        lambda P: ge.GetMediaRequest(generation_id=P.generation_id),
        "U N V N N V V",
    ),
    # The gateway's public provenance check alone: a watermark id is no oracle for people.
    "generator.GeneratorService/FindByWatermark": (
        lambda P: ge.FindByWatermarkRequest(watermark_id=1),
        "U D D D D D D",
    ),
    "generator.GeneratorService/CreateGeneration": (
        lambda P: ge.CreateGenerationRequest(
            prompt="a paper boat drifts down a gutter", seconds=4, idempotency_key=_key()
        ),
        "U A A A A A U",
    ),
    # Takedown requests: filed through the gateway's public form only; worked by operators
    # (admin scope or the `admin` service identity; the generator's own identity is refused).
    "generator.TakedownService/FileTakedownRequest": (
        lambda P: ge.FileTakedownRequestRequest(
            contact="someone@example.com",
            statement="this clip shows me without my consent",
            kind=1,
            generation_id="gen_nosuch",
        ),
        "U D D D D D D",
    ),
    "generator.TakedownService/ListTakedownRequests": (lambda P: ge.ListTakedownRequestsRequest(), "U D D D D D D"),
    "generator.TakedownService/ApproveTakedownRequest": (
        lambda P: ge.ApproveTakedownRequestRequest(id="tdr_nosuch"),
        "U D D D D D D",
    ),
    "generator.TakedownService/RejectTakedownRequest": (
        lambda P: ge.RejectTakedownRequestRequest(id="tdr_nosuch", reason="not shown"),
        "U D D D D D D",
    ),
    "generator.PoolAdminService/ListPools": (lambda P: ge.ListPoolsRequest(), "U D D D D D A"),
    "generator.PoolAdminService/DrainPool": (lambda P: ge.DrainPoolRequest(pool_name="no-such-pool"), "U D D D D D N"),
    "generator.PoolAdminService/ResumePool": (
        lambda P: ge.ResumePoolRequest(pool_name="no-such-pool"),
        "U D D D D D N",
    ),
    # billing
    "billing.BillingService/GetBalance": (lambda P: bl.GetBalanceRequest(user_id=P.owner["id"]), "U D A D D A A"),
    "billing.BillingService/Quote": (
        lambda P: bl.QuoteRequest(user_id=P.owner["id"], model="standard", seconds=4, size="720x1280"),
        "U D A D D A A",
    ),
    "billing.BillingService/Reserve": (
        lambda P: bl.ReserveRequest(
            generation_id="gen_" + _key(), user_id=P.owner["id"], model="standard", seconds=4, size="720x1280"
        ),
        "U D D D D D A",
    ),
    "billing.BillingService/Capture": (lambda P: bl.CaptureRequest(generation_id="gen_" + _key()), "U D D D D D N"),
    "billing.BillingService/Release": (lambda P: bl.ReleaseRequest(generation_id="gen_" + _key()), "U D D D D D N"),
    "billing.BillingService/ExtendReservation": (
        lambda P: bl.ExtendReservationRequest(generation_id="gen_" + _key()),
        "U D D D D D N",
    ),
    "billing.BillingService/ListCreditPacks": (lambda P: bl.ListCreditPacksRequest(), "A A A A A A A"),
    "billing.BillingService/PurchaseCredits": (
        lambda P: bl.PurchaseCreditsRequest(pack_id="no-such-pack", idempotency_key=_key()),
        "U N N N N N V",
    ),
    "billing.BillingService/Refund": (lambda P: bl.RefundRequest(purchase_id=str(uuid.uuid4())), "U N N N N N N"),
    "billing.BillingService/HandlePaymentWebhook": (
        lambda P: bl.HandlePaymentWebhookRequest(provider="local", payload=b"{}", signature="bad"),
        "U D D D D D D",
    ),
    "billing.BillingService/ListPlans": (lambda P: bl.ListPlansRequest(), "A A A A A A A"),
    "billing.BillingService/StartSubscription": (
        lambda P: bl.StartSubscriptionRequest(plan_id="no-such-plan", idempotency_key=_key()),
        "U N N N N N V",
    ),
    "billing.BillingService/CancelSubscription": (lambda P: bl.CancelSubscriptionRequest(), "U V V V V V V"),
    "billing.BillingService/GetEntitlements": (
        lambda P: bl.GetEntitlementsRequest(user_id=P.owner["id"]),
        "U D A D D A A",
    ),
    "billing.BillingService/GetStatement": (
        lambda P: bl.GetStatementRequest(user_id=P.owner["id"], page=PAGE),
        "U D A D D A A",
    ),
    # destructive, last
    "generator.GeneratorService/CancelGeneration": (
        lambda P: ge.CancelGenerationRequest(generation_id=P.generation_id),
        "U N A N N A U",
    ),
    "generator.GeneratorService/DeleteGeneration": (
        lambda P: ge.DeleteGenerationRequest(generation_id=P.generation_id),
        "U N N N N A U",
    ),
    "feed.FeedService/DeletePost": (lambda P: fe.DeletePostRequest(post_id=P.post_id), "U D N D D A U"),
    "cameo.CameoService/DeleteCameo": (lambda P: ca.DeleteCameoRequest(cameo_id=P.cameo_id), "U D V D D A U"),
    # Only the guardian ends an active link (support does it as the admin service, with a reason).
    "identity.IdentityService/UnlinkGuardian": (
        lambda P: idn.UnlinkGuardianRequest(link_id=P.guardian_link_id),
        "U N N D A D D",
    ),
    "identity.IdentityService/RevokeApiKey": (
        lambda P: idn.RevokeApiKeyRequest(api_key_id=P.api_key_id),
        "U N A N N D U",
    ),
    "identity.IdentityService/SignOut": (lambda P: idn.SignOutRequest(all_sessions=True), "V A A A A V V"),
}
OBSERVE = bool(os.environ.get("KINORA_AUTHZ_OBSERVE"))


def _descriptor(path: str):
    from google.protobuf import descriptor_pool

    service, method = path.split("/")
    return (
        descriptor_pool.Default().FindServiceByName("kinora." + service.replace(".", ".v1.", 1)).methods_by_name[method]
    )


def test_every_rpc_is_in_the_matrix():
    import importlib

    listed = {_descriptor(p).full_name for p in MATRIX}
    every = {
        m.full_name
        for area in ("identity", "cameo", "feed", "generator", "billing")
        for s in importlib.import_module(f"kinora.{area}.v1.{area}_pb2").DESCRIPTOR.services_by_name.values()
        for m in s.methods
    }
    assert every - listed == set(), f"RPCs missing from the matrix: {sorted(every - listed)}"


def test_authorisation_matrix(platform, principals):
    observed, wrong = {}, []
    for path, (build, expected_row) in MATRIX.items():
        method = _descriptor(path)
        area = path.split(".")[0]
        expected = dict(zip(CALLERS, expected_row.split()))
        out = GetMessageClass(method.output_type)
        with platform.channel(area) as channel:
            full = "/" + method.containing_service.full_name + "/" + method.name
            kind = channel.unary_stream if method.server_streaming else channel.unary_unary
            call = kind(full, request_serializer=lambda m: m.SerializeToString(), response_deserializer=out.FromString)
            row = {}
            for who in RUN_ORDER:
                code, detail = _call(call, method, build(principals), principals.md(who))
                row[who] = CODES.get(code, code.name)
                if row[who] != expected[who]:
                    wrong.append(f"{path} as {who}: expected {expected[who]}, got {code.name} ({detail})")
        observed[path] = " ".join(row[c] for c in CALLERS)
    if OBSERVE:
        for path, row in observed.items():
            print(f"{path:60s} {row}")
    assert not wrong, f"{len(wrong)} of {len(MATRIX) * len(CALLERS)} cells differ:\n" + "\n".join(wrong)


def _call(call, method, request, metadata):
    try:
        if method.server_streaming:
            for _ in call(request, metadata=metadata, timeout=2.0):
                pass
        else:
            call(request, metadata=metadata, timeout=15)
    except grpc.RpcError as exc:
        if method.server_streaming and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return grpc.StatusCode.OK, "stream open"
        return exc.code(), exc.details()
    return grpc.StatusCode.OK, ""
