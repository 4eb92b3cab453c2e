"""The feed, posts and follows (`/api/v1/feed…`, `/posts…`, `/users/{handle}/…`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kinora.feed.v1 import feed_pb2 as fpb
from services.gateway.generations import GenerationCreate, generation_request
from services.gateway.media import signed
from services.gateway.shared import API_PREFIX, Caller, PageSize, as_json, gw, page, user_id_of

router = APIRouter(prefix=API_PREFIX)


class PublishBody(BaseModel):
    generation_id: str
    caption: str = ""
    visibility: Literal["public", "followers", "private"] = "public"


class CommentBody(BaseModel):
    text: str


class RemixBody(BaseModel):
    # Two request bodies are called RemixBody (this and the Videos API's), so the schema is named after the
    # module; it keeps the name it had when the routes lived in rest.py, so openapi.json is unchanged.
    __module__ = "services.gateway.rest"

    prompt: str
    cameos: list[str] = Field(default_factory=list)


class SeeLessBody(BaseModel):
    note: str = ""


class ReportBody(BaseModel):
    reason: Literal["spam", "harassment", "sexual", "violence", "self_harm", "likeness_misuse", "other"]
    details: str = ""


class PreferencesBody(BaseModel):
    text: str


@router.get("/feed", tags=["feed"])
async def get_feed(
    request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = "", session_id: str = ""
):
    g = gw(request)
    return signed(
        request,
        caller,
        as_json(
            await g.feed_by_viewer.call(
                caller.subject,
                "GetFeed",
                fpb.GetFeedRequest(page=page(page_size, page_token), session_id=session_id),
                timeout=g.timeout,
            )
        ),
    )


@router.get("/feed/preferences", tags=["feed"])
async def get_preferences(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.GetFeedPreferences(fpb.GetFeedPreferencesRequest(), timeout=g.timeout))


@router.put("/feed/preferences", tags=["feed"])
async def set_preferences(body: PreferencesBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.SetFeedPreferences(fpb.SetFeedPreferencesRequest(text=body.text), timeout=g.timeout))


@router.post("/posts", status_code=201, tags=["feed"])
async def publish(body: PublishBody, request: Request, caller=Caller):
    g = gw(request)
    visibility = getattr(fpb, f"VISIBILITY_{body.visibility.upper()}")
    return signed(
        request,
        caller,
        as_json(
            await g.feed.PublishPost(
                fpb.PublishPostRequest(generation_id=body.generation_id, caption=body.caption, visibility=visibility),
                timeout=g.timeout,
            )
        ),
    )


@router.get("/posts/{post_id}", tags=["feed"])
async def get_post(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return signed(
        request, caller, as_json(await g.feed.GetPost(fpb.GetPostRequest(post_id=post_id), timeout=g.timeout))
    )


@router.delete("/posts/{post_id}", tags=["feed"])
async def delete_post(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.DeletePost(fpb.DeletePostRequest(post_id=post_id), timeout=g.timeout))


@router.post("/posts/{post_id}/like", tags=["feed"])
async def like(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.LikePost(fpb.LikePostRequest(post_id=post_id), timeout=g.timeout))


@router.delete("/posts/{post_id}/like", tags=["feed"])
async def unlike(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.UnlikePost(fpb.UnlikePostRequest(post_id=post_id), timeout=g.timeout))


@router.post("/posts/{post_id}/comments", status_code=201, tags=["feed"])
async def comment(post_id: str, body: CommentBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.feed.CreateComment(fpb.CreateCommentRequest(post_id=post_id, text=body.text), timeout=g.timeout)
    )


@router.get("/posts/{post_id}/comments", tags=["feed"])
async def list_comments(post_id: str, request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(
        await g.feed.ListComments(
            fpb.ListCommentsRequest(post_id=post_id, page=page(page_size, page_token)), timeout=g.timeout
        )
    )


@router.post("/posts/{post_id}/remix", status_code=201, tags=["feed"])
async def remix_post(post_id: str, body: RemixBody, request: Request, caller=Caller):
    """Start a generation that remixes the post's clip (the scene plan is edited by the new prompt)."""
    g = gw(request)
    post = (await g.feed.GetPost(fpb.GetPostRequest(post_id=post_id), timeout=g.timeout)).post
    req = await generation_request(
        g,
        GenerationCreate(prompt=body.prompt, cameos=body.cameos, remix_of=post.generation_id),
        b"",
        "",
        request.headers.get("idempotency-key", ""),
    )
    return signed(request, caller, as_json(await g.generator.CreateGeneration(req, timeout=g.timeout)))


@router.get("/posts/{post_id}/remixes", tags=["feed"])
async def remixes(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return signed(
        request, caller, as_json(await g.feed.GetRemixes(fpb.GetRemixesRequest(post_id=post_id), timeout=g.timeout))
    )


@router.post("/posts/{post_id}/see-less", tags=["feed"])
async def see_less(post_id: str, body: SeeLessBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.SeeLess(fpb.SeeLessRequest(post_id=post_id, note=body.note), timeout=g.timeout))


@router.post("/posts/{post_id}/report", status_code=201, tags=["feed"])
async def report(post_id: str, body: ReportBody, request: Request, caller=Caller):
    g = gw(request)
    reason = getattr(fpb, f"REPORT_REASON_{body.reason.upper()}")
    return as_json(
        await g.feed.ReportPost(
            fpb.ReportPostRequest(post_id=post_id, reason=reason, details=body.details), timeout=g.timeout
        )
    )


@router.post("/users/{handle}/follow", tags=["feed"])
async def follow(handle: str, request: Request, caller=Caller):
    g = gw(request)
    other = await user_id_of(g, handle)
    return as_json(await g.feed.Follow(fpb.FollowRequest(user_id=other), timeout=g.timeout))


@router.delete("/users/{handle}/follow", tags=["feed"])
async def unfollow(handle: str, request: Request, caller=Caller):
    g = gw(request)
    other = await user_id_of(g, handle)
    return as_json(await g.feed.Unfollow(fpb.UnfollowRequest(user_id=other), timeout=g.timeout))


@router.get("/users/{handle}/posts", tags=["feed"])
async def user_posts(handle: str, request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    other = await user_id_of(g, handle)
    return signed(
        request,
        caller,
        as_json(
            await g.feed.ListUserPosts(
                fpb.ListUserPostsRequest(user_id=other, page=page(page_size, page_token)), timeout=g.timeout
            )
        ),
    )
