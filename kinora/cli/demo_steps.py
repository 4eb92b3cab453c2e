"""The demo's story (kinora.cli.demo): alice and bob join, alice verifies her cameo, bob makes and
publishes a clip with her, demand pricing, credits, a stitch, a storyboard, and the revocation
with its takedown. Each step returns the detail its line shows; kinora.cli.demo runs them."""

from __future__ import annotations

import io
import time
import uuid
from datetime import datetime

import skimage.data
from PIL import Image

from kinora.cli.demo_session import PASSWORD, ApiRefused, DemoSession, StepFailed, User
from kinora.media.liveness_clip import MISHEARD_DIGITS, clip_for_challenge, speakable
from kinora.media.probe import probe_mp4

DEMAND_FREE_CLIPS = 2  # free clips a day while demand is high (production: 10)
STITCH_CROSSFADE_S = 0.5
# alice's storyboard: (what happens, seconds, camera), made as one clip with her cameo.
STORYBOARD = [
    ("alice walks onto an outdoor basketball court at dusk, a ball under her arm", 4, "push_in"),
    ("alice dribbles the ball between her legs near the free-throw line", 3, "pan_right"),
    ("alice shoots, the ball swishes through the net and she cheers", 3, "pull_out"),
]
TAKEDOWN_LIMIT_S = 2.0  # revocation to post hidden and media refused (the promise; issue 22)


class Demo(DemoSession):
    """The steps of the story, in kinora.cli.demo's order."""

    # -- the story ----------------------------------------------------------------

    def join(self) -> str:
        self.sign_up(self.alice)
        self.sign_up(self.bob)
        return "@alice and @bob signed up with invite codes from `kinora admin invite`"

    def verify_cameo(self) -> str:
        asked, failures = 0, []
        for _ in range(3):  # speech recognition can still slip; a person would simply record again
            ver, tries = self._speakable_challenge()
            asked += tries
            digits = ver["challenge"]["digits"]
            turns = [t.removeprefix("HEAD_TURN_").lower() for t in ver["challenge"].get("head_turns", [])]
            clip = clip_for_challenge(digits, turns)
            (self.out / "alice-liveness.mp4").write_bytes(clip)
            result = self.api.call(
                self.alice,
                "POST",
                f"/cameo/verifications/{ver['id']}/video",
                files={"video": ("alice-liveness.mp4", clip, "video/mp4")},
                data={"nonce": ver["challenge"]["nonce"], "display_name": "Alice"},
            )["verification"]
            if result["status"] == "VERIFICATION_STATUS_PASSED":
                break
            failures.append("; ".join(c.get("reason", "") for c in result.get("checks", []) if not c.get("passed")))
        else:
            raise StepFailed("liveness check failed 3 times: " + " | ".join(failures))
        cameo = self.wait_for("alice's cameo", "cameo", lambda: self._my_cameo(self.alice))
        self.facts["cameo_id"] = cameo["id"]
        notes = (
            f"; asked {asked} challenges until the digits avoided {'/'.join(sorted(MISHEARD_DIGITS))} "
            "(pocketsphinx mishears espeak-ng's)"
            if asked > 1
            else ""
        )
        if failures:
            notes += f"; recorded again after: {failures[0]}"
        return f'read "{digits}", turned {" and ".join(turns)}: all checks passed{notes}'

    def _speakable_challenge(self) -> tuple[dict, int]:
        for tries in range(1, 61):
            ver = self.api.call(self.alice, "POST", "/cameo/verifications")["verification"]
            if speakable(ver["challenge"]["digits"]):
                return ver, tries
        raise StepFailed("60 challenges in a row contained 6, 8 or 9")

    def _my_cameo(self, user: User):
        try:
            return self.api.call(user, "GET", "/cameo")  # the cameo itself, once the event made it
        except ApiRefused as exc:
            if exc.status == 404:
                return None
            raise

    def set_policy(self) -> str:
        self.api.call(self.alice, "PUT", "/cameo/policy", json={"policy": "approved"})
        self.api.call(self.alice, "POST", "/cameo/approvals", json={"handle": "bob"})
        return "policy: people I approve; @bob approved"

    def bob_generates(self) -> str:
        start = time.monotonic()
        gen = self.create(
            self.bob,
            {
                "prompt": "alice shoots a basketball on an outdoor court at sunset, the ball bounces off the backboard",
                "cameos": ["alice"],
                "seconds": 10,
            },
        )
        accepted = time.monotonic() - start
        gen = self.follow(self.bob, gen, "bob's clip")
        self.facts["bob_gen"] = gen["id"]
        return (
            f"{self.save(self.bob, gen, 'bob-with-alice')}; accepted in {accepted:.1f} s, "
            f"rendered in {_when(gen['completed_at']).timestamp() - _when(gen['started_at']).timestamp():.1f} s"
        )

    def publish(self) -> str:
        start = time.monotonic()

        def publish():
            try:
                return self.api.call(
                    self.bob,
                    "POST",
                    "/posts",
                    json={"generation_id": self.facts["bob_gen"], "caption": "alice, nothing but backboard"},
                )["post"]
            except ApiRefused as exc:  # feed hears of the finished clip by event, moments later
                if exc.code in ("generation_not_found", "generation_not_completed"):
                    return None
                raise

        post = self.wait_for("the feed learning the clip is done", "feed", publish, timeout_s=60, every_s=0.2)
        self.facts["post_id"] = post["id"]
        # alice follows bob, as friends do; the post then reaches her feed as "following".
        self.api.call(self.alice, "POST", "/users/bob/follow")
        return f"post {post['id']} (feed had the clip {time.monotonic() - start:.1f} s after it finished)"

    def alice_sees_it(self) -> str:
        gen_id, post_id = self.facts["bob_gen"], self.facts["post_id"]
        self.wait_for(
            "the appearance",
            "cameo",
            lambda: [
                a
                for a in self.api.call(self.alice, "GET", "/cameo/appearances").get("appearances", [])
                if a.get("generation_id") == gen_id
            ],
        )
        notes = self.wait_for(
            "the notification",
            "cameo",
            lambda: [
                n
                for n in self.api.call(self.alice, "GET", "/notifications").get("notifications", [])
                if n.get("generation_id") == gen_id or n.get("post_id") == post_id
            ],
        )
        item = self.wait_for(
            "the post in her feed",
            "feed",
            lambda: next(
                (i for i in self.api.call(self.alice, "GET", "/feed").get("items", []) if i["post"]["id"] == post_id),
                None,
            ),
        )
        return f'appearances ✓, notification "{notes[0].get("message", "")}", feed ✓ ({item.get("reason", "")})'

    def remix_and_demand(self) -> str:
        """alice remixes bob's clip; bob asks for another free clip meanwhile. With
        one worker slot, bob's job waits in the queue while the remix renders:
        the generator reports the queue and billing sees high demand."""
        remix = self.create(
            self.alice,
            {
                "prompt": "the same shot at night in the rain, anime style",
                "remix_of": self.facts["bob_gen"],
                "seconds": 8,
            },
        )
        free = self.create(self.bob, {"prompt": "a red ball rolls down a wooden ramp in a kitchen", "seconds": 4})
        self.facts.update(remix=remix, bob_free=free)
        return f"alice's remix {remix['id']} and bob's free clip {free['id']} queued for the one worker slot"

    def allowance_runs_out(self) -> str:
        def demand_priced():
            quote = self.quote(self.bob, 4)
            return quote if quote.get("rule", "").startswith("PRICE_RULE_DEMAND") else None

        quote = self.wait_for("high demand pricing", "billing", demand_priced, timeout_s=30)
        allowance = self.api.call(self.bob, "GET", "/billing/balance")["balance"].get("allowance", {})
        used = int(allowance.get("daily_limit", 0)) - int(allowance.get("remaining", 0))
        return (
            f"bob has used {used} free clips today, the free-speed limit under high demand is "
            f'{DEMAND_FREE_CLIPS}; quote: {quote["rule"].removeprefix("PRICE_RULE_")} — "{quote["description"]}"'
        )

    def buy_credits(self) -> str:
        packs = self.api.call(self.bob, "GET", "/billing/packs").get("packs", [])
        pack = min(packs, key=lambda p: int(p.get("credits", 0)))
        bought = self.api.call(
            self.bob, "POST", "/billing/purchases", json={"pack_id": pack["id"], "payment_token": "tok_test_succeed"}
        )
        balance = bought.get("balance", {})
        return (
            f"pack '{pack['id']}' ({bought['purchase'].get('credits')} credits) with the local test provider; "
            f"balance {balance.get('credits', 0)} credits"
        )

    def paid_generation(self) -> str:
        quote = self.quote(self.bob, 4)
        paid = self.create(
            self.bob,
            {"prompt": "a paper plane glides across a sunny classroom", "seconds": 4, "quote_id": quote["quote_id"]},
        )
        if paid.get("tier") != "TIER_PAID":
            raise StepFailed(f"expected the paid tier, got {paid.get('tier')} ({quote['description']})")
        start = time.monotonic()
        remix = self.follow(self.alice, self.facts["remix"], "alice's remix")
        paid = self.follow(self.bob, paid, "bob's paid clip")
        paid_done = time.monotonic() - start
        free = self.follow(self.bob, self.facts["bob_free"], "bob's free clip")
        order = "ahead of" if _when(paid["completed_at"]) < _when(free["completed_at"]) else "after"
        self.facts.update(
            remix_saved=self.save(self.alice, remix, "alice-remix"),
            free_saved=self.save(self.bob, free, "bob-free"),
            bob_clips=[free, paid],
        )
        balance = self.api.call(self.bob, "GET", "/billing/balance")["balance"]
        return (
            f'quote "{quote["description"]}"; paid tier, done in {paid_done:.0f} s, {order} his queued free '
            f"clip; {self.save(self.bob, paid, 'bob-paid')}; balance {balance.get('credits', 0)} credits"
        )

    def remix_saved(self) -> str:
        remix = self.api.call(self.alice, "GET", f"/generations/{self.facts['remix']['id']}")["generation"]
        if remix.get("remix_of") != self.facts["bob_gen"]:
            raise StepFailed(f"the remix does not point at bob's clip ({remix.get('remix_of')!r})")
        return f"{self.facts['remix_saved']}; remix of {remix['remix_of']}"

    def stitch(self) -> str:
        """bob joins his two clips into one (free), with a crossfade: it decodes to their length
        less the crossfade."""
        clips = self.facts["bob_clips"]
        made = self.create(
            self.bob,
            {
                "stitch_of": [c["id"] for c in clips],
                "crossfade_seconds": STITCH_CROSSFADE_S,
                "prompt": "a ball and a paper plane",
            },
        )
        gen = self.follow(self.bob, made, "bob's stitch")
        if gen.get("stitch_of") != [c["id"] for c in clips]:
            raise StepFailed(f"the stitch joins {gen.get('stitch_of')}, not bob's two clips")
        length = sum(probe_mp4((self.out / f"{name}.mp4").read_bytes()).duration_s for name in ("bob-free", "bob-paid"))
        expected = length - STITCH_CROSSFADE_S * (len(clips) - 1)
        return (
            f"{self.save(self.bob, gen, 'bob-stitch', seconds=expected)} = bob-free + bob-paid "
            f"({length:.2f} s) less a {STITCH_CROSSFADE_S} s crossfade; free"
        )

    def storyboard(self) -> str:
        """alice makes one clip of three shots with her cameo; each shot's start is in the answer."""
        shots = [{"prompt": prompt, "seconds": seconds, "camera": camera} for prompt, seconds, camera in STORYBOARD]
        made = self.create(
            self.alice,
            {"prompt": "alice's evening on the court", "shots": shots, "cameos": ["alice"], "model": "standard"},
        )
        gen = self.follow(self.alice, made, "alice's storyboard")
        got = gen.get("shots", [])
        if [(s.get("prompt"), s.get("seconds"), s.get("camera", "")) for s in got] != [tuple(s) for s in STORYBOARD]:
            raise StepFailed(f"the clip's shots are not the storyboard's: {got}")
        saved = self.save(self.alice, gen, "alice-storyboard", seconds=sum(s[1] for s in STORYBOARD))
        cuts = ", ".join(f"{float(s.get('start_seconds', 0)):g} s {s.get('camera', '').replace('_', ' ')}" for s in got)
        return f"{saved}; {len(got)} shots starting at {cuts}"

    def revoke(self) -> str:
        reply = self.api.call(self.alice, "POST", "/cameo/revocations", json={"handle": "bob", "takedown": True})
        self.facts["revoked_at"] = time.monotonic()
        return f"@bob's access withdrawn; {reply.get('takedown_count', 0)} video(s) to take down"

    def refused(self) -> str:
        try:
            gen = self.create(self.bob, {"prompt": "alice dances in the rain", "cameos": ["alice"], "seconds": 4})
        except ApiRefused as exc:
            if exc.status in (403, 412):
                return f'HTTP {exc.status}: "{exc.message}"'
            raise
        raise StepFailed(f"the generation was accepted ({gen['id']}) although alice revoked bob")

    def photo_refused(self) -> str:
        """The likeness guard: a photo of alice as bob's input image is her cameo too, so her
        revocation refuses it as it refused the named cameo (the reason names no one)."""
        photo, canvas = io.BytesIO(), Image.new("RGB", (720, 1280), (70, 110, 150))  # a phone's 9:16 picture
        canvas.paste(Image.fromarray(skimage.data.astronaut()).resize((420, 420)), (150, 300))
        canvas.save(photo, "JPEG", quality=85)
        try:
            gen = self.api.call(
                self.bob,
                "POST",
                "/generations",
                data={"prompt": "this person waves", "seconds": "4"},
                files={"image": ("alice.jpg", photo.getvalue(), "image/jpeg")},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )["generation"]
        except ApiRefused as exc:
            if exc.status == 403:
                return f'HTTP 403 {exc.code}: "{exc.message}"'
            raise
        raise StepFailed(f"the photo of alice was accepted ({gen['id']}) although she revoked bob")

    def taken_down(self) -> str:
        """The promise: within 2 s of the revocation the post is hidden and the video refused.
        Each is waited for up to that limit (they travel by event) and both times are shown."""
        post_id, gen_id, revoked = self.facts["post_id"], self.facts["bob_gen"], self.facts["revoked_at"]

        def post_gone():
            try:
                post = self.api.call(self.alice, "GET", f"/posts/{post_id}")["post"]
            except ApiRefused as exc:
                return exc.status == 404
            return post.get("state") == "POST_STATE_TAKEN_DOWN"

        def media_refused():
            try:
                self.api.call(self.bob, "GET", f"/generations/{gen_id}/content")
            except ApiRefused as exc:
                self.facts["media_refusal"] = exc.code or str(exc.status)
                return True
            return False

        post_s = self.within("bob's post hidden", "feed", post_gone, revoked, TAKEDOWN_LIMIT_S)
        media_s = self.within("bob's video refused", "generator", media_refused, revoked, TAKEDOWN_LIMIT_S)
        return (
            f"post hidden {post_s:.2f} s and video refused ({self.facts['media_refusal']}) {media_s:.2f} s "
            f"after the revocation (limit {TAKEDOWN_LIMIT_S:.0f} s)"
        )

    def web_screens(self) -> str:
        from kinora.cli import web_tour

        base = str(self.api.http.base_url).rstrip("/")
        shots = web_tour.screenshots(base, self.alice.handle, PASSWORD, self.out / "web")
        return f"@alice's {', '.join(p.stem for p in shots)} in {self.out / 'web'}; the app is at {base}/"


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)
