"""Signed media URLs a <video> can play (services/gateway/media.py), on the five real services and a
real generator worker (Triton serving worldsim): no Authorization header, Range requests, ETag, the
signature binding the viewer, and a clip that is deleted, unpublished or taken down stops playing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import statistics
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import av
import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth, running_platform
from test_cameo_erasure import generator_worker
from test_likeness_guard import verify_cameo

from services.gateway.errors import ApiError
from services.gateway.media import EXPIRY_STEP_S, MediaSigner, Unsatisfiable, parse_range, sign_media

pytestmark = pytest.mark.asyncio(loop_scope="module")
VARIANTS = {"video", "thumbnail", "spritesheet"}


# -- pure parts --------------------------------------------------------------------------------


def test_parse_range():
    assert parse_range(None, 1000) is None
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=-5000", 1000) == (0, 999)
    assert parse_range("bytes=990-5000", 1000) == (990, 999)
    for ignored in ("bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=-", "bytes"):
        assert parse_range(ignored, 1000) is None, ignored
    for unsatisfiable in ("bytes=1000-", "bytes=5000-6000", "bytes=-0"):
        with pytest.raises(Unsatisfiable):
            parse_range(unsatisfiable, 1000)


def test_signatures_bind_generation_variant_expiry_and_viewer():
    signer = MediaSigner(b"k" * 32, 3600)
    now = 1_800_000_000
    url = signer.url("gen1", "video", "user1", now=now)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    exp = int(query["exp"])
    assert exp % EXPIRY_STEP_S == 0 and now + 3600 <= exp < now + 3600 + EXPIRY_STEP_S
    assert signer.check("gen1", "video", "user1", exp, query["sig"], now=now) == exp - now
    for changed in (
        ("gen2", "video", "user1", exp),
        ("gen1", "thumbnail", "user1", exp),
        ("gen1", "video", "user2", exp),
        ("gen1", "video", "user1", exp + 1),
    ):
        with pytest.raises(Exception) as refused:
            signer.check(*changed, query["sig"], now=now)
        assert refused.value.code == "media_url_invalid"
    with pytest.raises(Exception) as late:
        signer.check("gen1", "video", "user1", exp, query["sig"], now=exp)
    assert late.value.code == "media_url_expired"
    other = MediaSigner(b"o" * 32, 3600)
    with pytest.raises(ApiError):
        other.check("gen1", "video", "user1", exp, query["sig"], now=now)


def test_urls_are_added_to_generations_and_visible_posts():
    signer = MediaSigner(b"k" * 32, 60)
    body = {
        "items": [
            {"post": {"id": "p1", "author_user_id": "a", "generation_id": "g1", "state": "POST_STATE_PUBLISHED"}},
            {"post": {"id": "p2", "author_user_id": "a", "generation_id": "g2", "state": "POST_STATE_TAKEN_DOWN"}},
        ],
        "generation": {
            "id": "g3",
            "status": "GENERATION_STATUS_COMPLETED",
            "media": [{"variant": "MEDIA_VARIANT_VIDEO"}, {"variant": "MEDIA_VARIANT_THUMBNAIL"}],
        },
    }
    sign_media(signer, "viewer", body)
    assert set(body["items"][0]["post"]["media_urls"]) == VARIANTS
    assert body["items"][0]["post"]["media_urls"]["video"].startswith("/api/v1/media/g1/video?u=viewer&exp=")
    assert "media_urls" not in body["items"][1]["post"]
    assert set(body["generation"]["media_urls"]) == {"video", "thumbnail"}


# -- against the platform ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_broker():
    """This module's own broker: its takedown waits on a consumer group that a platform of an
    earlier module, sharing the session broker and group names, could still hold for a while."""
    from kinora.stack.tansu import TansuBroker, free_port

    b = TansuBroker(free_port()).start()
    yield b
    b.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory, own_broker):
    async with running_platform(
        tmp_path_factory.mktemp("platform"), own_broker.bootstrap, user_burst=1000, key_burst=1000
    ) as p:
        yield p


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=180) as c:
        yield c


async def _completed(client, user, body) -> str:
    made = await client.post(
        "/api/v1/generations", headers={**auth(user), "Idempotency-Key": uuid.uuid4().hex}, json={"seconds": 4, **body}
    )
    assert made.status_code == 201, made.text
    generation_id = made.json()["generation"]["id"]
    for _ in range(2400):
        status = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(user))).json()
        if status["generation"]["status"] in ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED"):
            break
        await asyncio.sleep(0.25)
    assert status["generation"]["status"] == "GENERATION_STATUS_COMPLETED", status
    return generation_id


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def clips(platform):
    """Ada's two published clips: a plain one and one with her own cameo in it."""
    async with httpx.AsyncClient(base_url=platform.url, timeout=180) as c:
        ada, ben = await platform.signup(c, "ada"), await platform.signup(c, "ben")
        await verify_cameo(c, ada)
        async with generator_worker(platform):
            plain = await _completed(c, ada, {"prompt": "a red ball bounces on a wooden floor"})
            cameo = await _completed(c, ada, {"prompt": 'a person says "hi" in a park', "cameos": ["ada"]})
        posts = {}
        for generation_id in (plain, cameo):
            posted = await c.post("/api/v1/posts", headers=auth(ada), json={"generation_id": generation_id})
            assert posted.status_code == 201, posted.text
            posts[generation_id] = posted.json()["post"]["id"]
        return {"ada": ada, "ben": ben, "plain": plain, "cameo": cameo, "posts": posts}


def plain_client(platform) -> httpx.AsyncClient:
    """What a <video> element has: no Authorization header, no cookies."""
    return httpx.AsyncClient(base_url=platform.url, timeout=60)


async def urls_for(client, user, post_id) -> dict:
    reply = await client.get(f"/api/v1/posts/{post_id}", headers=auth(user))
    assert reply.status_code == 200, reply.text
    return reply.json()["post"]["media_urls"]


async def test_answers_carry_urls_bound_to_the_viewer(client, clips):
    ada, ben = clips["ada"], clips["ben"]
    generation = (await client.get(f"/api/v1/generations/{clips['plain']}", headers=auth(ada))).json()["generation"]
    assert set(generation["media_urls"]) == VARIANTS
    assert all(f"u={ada['id']}&" in url for url in generation["media_urls"].values())
    listed = (await client.get("/api/v1/generations", headers=auth(ada))).json()["generations"]
    assert all(set(g["media_urls"]) == VARIANTS for g in listed)
    seen = await urls_for(client, ben, clips["posts"][clips["plain"]])
    assert set(seen) == VARIANTS and all(f"u={ben['id']}&" in url for url in seen.values())
    posts = (await client.get("/api/v1/users/ada/posts", headers=auth(ben))).json()["posts"]
    assert posts and all(set(p["media_urls"]) == VARIANTS for p in posts)
    feed = (await client.get("/api/v1/feed", headers=auth(ben))).json()
    assert all(set(item["post"]["media_urls"]) == VARIANTS for item in feed.get("items", []))
    remixes = (await client.get(f"/api/v1/posts/{clips['posts'][clips['plain']]}/remixes", headers=auth(ben))).json()
    assert set(remixes["root"]["post"]["media_urls"]) == VARIANTS


async def test_a_url_plays_without_authorization_with_ranges(platform, client, clips):
    ada, ben = clips["ada"], clips["ben"]
    whole = await client.get(f"/api/v1/generations/{clips['plain']}/content", headers=auth(ada))
    assert whole.status_code == 200
    data = whole.content
    size, etag = len(data), f'"{hashlib.sha256(data).hexdigest()}"'
    url = (await urls_for(client, ben, clips["posts"][clips["plain"]]))["video"]
    async with plain_client(platform) as video:
        full = await video.get(url)
        assert full.status_code == 200 and full.content == data
        assert full.headers["content-type"] == "video/mp4"
        assert full.headers["accept-ranges"] == "bytes" and full.headers["etag"] == etag
        assert full.headers["content-length"] == str(size)
        cache = full.headers["cache-control"]
        assert cache.startswith("private, max-age=") and 0 < int(cache.split("=")[1]) <= 3600 + EXPIRY_STEP_S
        assert "content-encoding" not in full.headers

        # As a browser does: the start, then the rest in pieces; reassembled it decodes.
        pieces, first = [], 0
        for header in ("bytes=0-1023", f"bytes=1024-{size // 2}", f"bytes={size // 2 + 1}-"):
            part = await video.get(url, headers={"Range": header})
            assert part.status_code == 206, part.text
            last = first + len(part.content) - 1
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert part.headers["content-length"] == str(len(part.content))
            pieces.append(part.content)
            first = last + 1
        assembled = b"".join(pieces)
        assert assembled == data
        with av.open(io.BytesIO(assembled)) as container:
            frames = sum(1 for _ in container.decode(video=0))
            assert frames >= 24 * 4 - 2 and container.streams.audio
        tail = await video.get(url, headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == data[-500:]
        assert tail.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"

        bad = await video.get(url, headers={"Range": f"bytes={size}-"})
        assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{size}"
        cached = await video.get(url, headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
        stale = await video.get(url, headers={"Range": "bytes=0-9", "If-Range": '"not-it"'})
        assert stale.status_code == 200 and stale.content == data  # If-Range mismatch: the whole file

        thumbnail = (await urls_for(client, ben, clips["posts"][clips["plain"]]))["thumbnail"]
        picture = await video.get(thumbnail)
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        assert picture.content[:2] == b"\xff\xd8"


async def test_tampered_expired_and_other_viewers_urls_are_403(platform, client, clips):
    ada, ben = clips["ada"], clips["ben"]
    url = (await urls_for(client, ben, clips["posts"][clips["plain"]]))["video"]
    path, query = url.split("?")
    q = {k: v[0] for k, v in parse_qs(query).items()}
    signer = platform.gateway.app.state.media.signer
    forged_sig = q["sig"][:-2] + ("AA" if not q["sig"].endswith("AA") else "BB")
    cases = {
        "tampered signature": f"{path}?u={q['u']}&exp={q['exp']}&sig={forged_sig}",
        "another viewer": f"{path}?u={ada['id']}&exp={q['exp']}&sig={q['sig']}",
        "longer life": f"{path}?u={q['u']}&exp={int(q['exp']) + 86400}&sig={q['sig']}",
        "another variant": f"{path.replace('/video', '/thumbnail')}?{query}",
        "another clip": f"{path.replace(clips['plain'], clips['cameo'])}?{query}",
    }
    async with plain_client(platform) as video:
        for what, forged in cases.items():
            reply = await video.get(forged)
            assert reply.status_code == 403, (what, reply.text)
            assert reply.json()["error"]["code"] == "media_url_invalid", what
        expired = signer.url(clips["plain"], "video", ben["id"], now=time.time() - 7200)
        reply = await video.get(expired)
        assert reply.status_code == 403 and reply.json()["error"]["code"] == "media_url_expired"
        assert "expired" in reply.json()["error"]["message"]
        missing = await video.get(path)
        assert missing.status_code == 400  # no signature at all


async def test_visibility_is_checked_at_every_request(platform, client, clips):
    """Cost of the check, then: unpublished and deleted stop playing for others at once."""
    ada, ben = clips["ada"], clips["ben"]
    mine = (await client.get(f"/api/v1/generations/{clips['plain']}", headers=auth(ada))).json()
    own_url = mine["generation"]["media_urls"]["video"]
    bens_url = (await urls_for(client, ben, clips["posts"][clips["plain"]]))["video"]
    etag = (await client.get(own_url)).headers["etag"]
    async with plain_client(platform) as video:
        timings = {}
        for who, url in (("creator", own_url), ("viewer", bens_url)):
            spent = []
            for _ in range(20):
                started = time.perf_counter()
                assert (await video.get(url, headers={"If-None-Match": etag})).status_code == 304
                spent.append((time.perf_counter() - started) * 1000)
            timings[who] = (statistics.median(spent), max(spent))
        print(
            f"\nsigned media 304 (check only), median/max ms: creator {timings['creator'][0]:.1f}/"
            f"{timings['creator'][1]:.1f} (generator), viewer {timings['viewer'][0]:.1f}/"
            f"{timings['viewer'][1]:.1f} (generator + feed)"
        )

        # Ada deletes the post: Ben's URL stops at once; hers still plays (her clip is still hers).
        assert (
            await client.delete(f"/api/v1/posts/{clips['posts'][clips['plain']]}", headers=auth(ada))
        ).status_code == 200
        gone = await video.get(bens_url)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "media_not_found"
        assert (await video.get(bens_url, headers={"If-None-Match": etag})).status_code == 404  # no cached 304
        assert (await video.get(own_url, headers={"Range": "bytes=0-9"})).status_code == 206
        # She deletes the generation: it stops for her too.
        assert (await client.delete(f"/api/v1/generations/{clips['plain']}", headers=auth(ada))).status_code == 200
        assert (await video.get(own_url)).status_code == 404


async def test_a_taken_down_clip_stops_playing(platform, client, clips):
    ada, ben = clips["ada"], clips["ben"]
    bens_url = (await urls_for(client, ben, clips["posts"][clips["cameo"]]))["video"]
    own_url = (await client.get(f"/api/v1/generations/{clips['cameo']}", headers=auth(ada))).json()["generation"][
        "media_urls"
    ]["video"]
    async with plain_client(platform) as video:
        assert (await video.get(bens_url, headers={"Range": "bytes=0-9"})).status_code == 206
        # Ada removes the clip from her cameo's appearances: a takedown, carried by the broker.
        appearances = (await client.get("/api/v1/cameo/appearances", headers=auth(ada))).json()["appearances"]
        appearance = next(a for a in appearances if a["generation_id"] == clips["cameo"])
        removed = await client.delete(f"/api/v1/cameo/appearances/{appearance['id']}", headers=auth(ada))
        assert removed.status_code == 200, removed.text
        # Feed hides the post and the generator deletes the media, each on its own consumer:
        # wait for both (the viewer's URL may stop before the creator's).
        for _ in range(300):
            codes = [(await video.get(url, headers={"Range": "bytes=0-9"})).status_code for url in (bens_url, own_url)]
            if codes == [404, 404]:
                break
            await asyncio.sleep(0.1)
        for url in (bens_url, own_url):
            reply = await video.get(url)
            assert reply.status_code == 404, reply.text
            assert reply.json()["error"]["code"] in ("taken_down", "media_not_found")
