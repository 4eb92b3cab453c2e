"""`make demo` (`kinora demo`): the platform's main job, end to end on the
local stack, through the public REST API the way the app uses it.

alice and bob join with invites; alice verifies her cameo with a recorded
liveness clip; she lets only people she approves use it and approves bob; bob
makes a 10 s clip featuring her and publishes it; alice finds it in her
appearances, notifications and feed and remixes it; under high demand bob's
free allowance runs out, he buys credits and generates again; bob stitches his
two clips into one; alice makes a 3-shot storyboard with her cameo; alice
revokes bob: his next clip with her is refused with a reason and his post is
taken down. Each step prints ✓/✗ with a detail and its time; the clips land in
out/.

High demand is simulated with the demo's own queue: the generator reports its
queue to billing every second (DemandChanged over Kafka) and billing is told
that one waiting free job already means high demand, so the demo's few jobs
trigger the same demand pricing a long GPU queue does in production.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import skimage.data
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.media.liveness_clip import MISHEARD_DIGITS, clip_for_challenge, speakable
from kinora.media.probe import probe_mp4
from kinora.runtime.auth import mint_service_token
from kinora.stack.local import DEFAULT_PORTS, LocalStack, log_tail, operator_channel
from kinora.stack.tansu import free_port

PASSWORD = "correct horse battery staple"
DEMAND_FREE_CLIPS = 2  # free clips a day while demand is high (production: 10)
# Settings the demo's stack runs with (environment variables, as in production).
DEMO_ENV = {
    "KINORA_DEMAND_INTERVAL_SECONDS": "1",  # generator → billing queue reports (production: 15 s)
    "KINORA_BILLING_DEMAND_QUEUE_DEPTH": "1",  # one waiting free job = high demand (production: 50)
    "KINORA_BILLING_DEMAND_FREE_ALLOWANCE": str(DEMAND_FREE_CLIPS),
    "KINORA_WORKER_SLOTS": "1",  # one job at a time, like one GPU, so the demo's jobs really queue
    "KINORA_METRICS_BASE_PORT": "0",  # free ports, so the demo runs beside a `kinora up`
}
TOTAL_STEPS = 19  # the stack's start and the 18 steps of the story
STITCH_CROSSFADE_S = 0.5
# alice's storyboard: (what happens, seconds, camera), made as one clip with her cameo.
STORYBOARD = [
    ("alice walks onto an outdoor basketball court at dusk, a ball under her arm", 4, "push_in"),
    ("alice dribbles the ball between her legs near the free-throw line", 3, "pan_right"),
    ("alice shoots, the ball swishes through the net and she cheers", 3, "pull_out"),
]
TAKEDOWN_LIMIT_S = 2.0  # revocation to post hidden and media refused (the promise; issue 22)


class StepFailed(Exception):
    pass


class ApiRefused(StepFailed):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class User:
    handle: str
    id: str = ""
    token: str = ""


@dataclass
class Step:
    number: int
    name: str
    ok: bool
    detail: str
    seconds: float


class Api:
    """The gateway's REST API as the app calls it."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=120)

    def call(self, user: User | None, method: str, path: str, **kw) -> dict:
        headers = kw.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {user.token}"
        reply = self.http.request(method, f"/api/v1{path}", headers=headers, **kw)
        if reply.status_code >= 400:
            try:
                err = reply.json()["error"]
                raise ApiRefused(reply.status_code, err.get("code", ""), err.get("message", ""))
            except (ValueError, KeyError, TypeError):
                raise ApiRefused(reply.status_code, "", reply.text[:200]) from None
        if reply.headers.get("content-type", "").startswith("application/json"):
            return reply.json()
        return {"bytes": reply.content}

    def wait_for(self, what: str, check, timeout_s: float = 30.0, every_s: float = 0.3):
        """Poll `check()` until it returns something truthy (events travel over Kafka)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise StepFailed(f"{what} did not happen within {timeout_s:.0f} s")
            time.sleep(every_s)


@dataclass
class Demo:
    api: Api
    stack: LocalStack
    out: Path
    console: Console
    alice: User = field(default_factory=lambda: User("alice"))
    bob: User = field(default_factory=lambda: User("bob"))
    facts: dict = field(default_factory=dict)

    # -- helpers ----------------------------------------------------------------

    def wait_for(self, what: str, component: str, check, timeout_s: float = 30.0, every_s: float = 0.3):
        """`Api.wait_for`, and on time-out the step names the component that owed the
        result and shows its last log lines."""
        try:
            return self.api.wait_for(what, check, timeout_s, every_s)
        except StepFailed as exc:
            raise StepFailed(f"{exc} ({self._blame(component)})") from None

    def within(self, what: str, component: str, check, since: float, limit_s: float) -> float:
        """Seconds from `since` until `check()` holds; a step failure (naming the component and
        its last log lines) when it does not hold by `since + limit_s`."""
        while not check():
            if time.monotonic() > since + limit_s:
                raise StepFailed(f"{what}: not within the promised {limit_s:.0f} s ({self._blame(component)})")
            time.sleep(0.05)
        return time.monotonic() - since

    def _blame(self, component: str) -> str:
        log = self.stack.component(component).log
        return f"{component}; last lines of {log}:\n{log_tail(log, 8)}"

    def invite(self) -> str:
        """What `kinora admin invite` does: identity's CreateInvite with a service token."""
        secret = (self.stack.home / "internal_secret").read_text().strip()
        token = mint_service_token("admin", secret)[0]
        with operator_channel(self.stack.home, self.stack.addr("identity")) as channel:
            reply = identity_pb2_grpc.IdentityServiceStub(channel).CreateInvite(
                identity_pb2.CreateInviteRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=10
            )
        return reply.invite.code

    def sign_up(self, user: User) -> None:
        reply = self.api.call(
            None,
            "POST",
            "/auth/signup",
            json={
                "invite_code": self.invite(),
                "handle": user.handle,
                "password": PASSWORD,
                "birthdate": "1994-03-14",
                "region": "US",
            },
        )
        user.id, user.token = reply["user"]["id"], reply["tokens"]["access_token"]

    def create(self, user: User, body: dict) -> dict:
        return self.api.call(user, "POST", "/generations", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})[
            "generation"
        ]

    def follow(self, user: User, gen: dict, label: str) -> dict:
        """Progress from the Server-Sent Events stream, as the app shows it."""
        with Progress(
            TextColumn(f"    {label:<22}"),
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        ) as bar:
            task = bar.add_task(gen.get("stage", "queued"), total=100)
            with self.api.http.stream(
                "GET",
                f"/api/v1/generations/{gen['id']}/events",
                headers={"Authorization": f"Bearer {user.token}"},
                timeout=600,
            ) as events:
                for line in events.iter_lines():
                    if line.startswith("data: ") and line != "data: {}":
                        gen = json.loads(line[6:])
                        bar.update(task, completed=gen.get("progress", 0), description=gen.get("stage", ""))
        gen = self.api.call(user, "GET", f"/generations/{gen['id']}")["generation"]
        if gen["status"] != "GENERATION_STATUS_COMPLETED":
            raise StepFailed(
                f"generation {gen['id']} ended {gen['status']}: "
                f"{gen.get('error', {}).get('message', 'no reason given')}"
            )
        return gen

    def save(self, user: User, gen: dict, name: str, seconds: float | None = None) -> str:
        """Download the MP4 and thumbnail into out/, decode the MP4 and describe it. It must last
        `seconds` (default: the generation's whole seconds) to half a second."""
        video = self.api.call(user, "GET", f"/generations/{gen['id']}/content", params={"variant": "video"})["bytes"]
        thumb = self.api.call(user, "GET", f"/generations/{gen['id']}/content", params={"variant": "thumbnail"})[
            "bytes"
        ]
        (self.out / f"{name}.mp4").write_bytes(video)
        (self.out / f"{name}.jpg").write_bytes(thumb)
        info = probe_mp4(video)
        expected = gen["seconds"] if seconds is None else seconds
        if not info.has_audio or abs(info.duration_s - expected) > 0.5:
            raise StepFailed(
                f"{name}.mp4 is {info.duration_s:.2f} s, audio {info.audio_codec}; expected {expected} s with sound"
            )
        return (
            f"out/{name}.mp4 {info.duration_s:.2f} s {info.width}x{info.height} {info.video_codec}+{info.audio_codec}"
        )

    def quote(self, user: User, seconds: int) -> dict:
        return self.api.call(user, "POST", "/billing/quote", json={"seconds": seconds})["quote"]

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


class _Abort(Exception):
    """A step failed; the rest of the story depends on it."""


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def run_demo(home: Path, out: Path | None = None, keep: bool = False) -> int:
    """The story on a fresh local stack. With `keep`, the stack (and Kinora Web) keeps
    running after a successful story until Ctrl-C."""
    console = Console(soft_wrap=True)
    out = (out or Path("out")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = home / "demo"
    if home.exists():  # every run tells the story from an empty platform
        shutil.rmtree(home)
    env = {**os.environ, **DEMO_ENV}
    for name in DEFAULT_PORTS:  # free ports: the demo never collides with another stack
        env.setdefault(f"KINORA_{name.upper().replace('-', '_')}_PORT", str(free_port()))
    stack = LocalStack(home, env=env, log=console.print)
    steps: list[Step] = []
    began = time.monotonic()

    @contextmanager
    def step(name: str):
        start = time.monotonic()
        note = {"detail": ""}
        try:
            yield note
            ok = True
        except Exception as exc:  # noqa: BLE001 - any failure is reported as this step's ✗
            ok, note["detail"] = False, str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
        steps.append(Step(len(steps) + 1, name, ok, note["detail"], time.monotonic() - start))
        s = steps[-1]
        console.print(
            f"{'[green]✓[/green]' if ok else '[red]✗[/red]'} {s.number:>2}. {name:<44} {s.seconds:6.1f} s  {s.detail}",
            highlight=False,
        )
        if not ok:
            raise _Abort

    console.print(f"[bold]Kinora demo[/bold]: the local stack in {home}, clips in {out}")
    try:
        with step("start the local stack") as note:
            state = stack.start()
            note["detail"] = f"{len(state.components)} components serving; gateway {state.gateway_url}"
        demo = Demo(Api(state.gateway_url), stack, out, console)
        story = [
            ("alice and bob join with invites", demo.join),
            ("alice verifies her cameo (liveness clip)", demo.verify_cameo),
            ("alice: only people I approve; approves bob", demo.set_policy),
            ("bob generates a 10 s clip featuring alice", demo.bob_generates),
            ("bob publishes it", demo.publish),
            ("alice sees it: appearances, notifications, feed", demo.alice_sees_it),
            ("Kinora Web: alice's screens, photographed", demo.web_screens),
            ("alice remixes it; bob queues a free clip", demo.remix_and_demand),
            ("high demand: bob's free allowance runs out", demo.allowance_runs_out),
            ("bob buys credits", demo.buy_credits),
            ("bob generates again, paid, ahead of the queue", demo.paid_generation),
            ("alice's remix is ready", demo.remix_saved),
            ("bob stitches his two clips into one", demo.stitch),
            ("alice makes a 3-shot storyboard with her cameo", demo.storyboard),
            ("alice revokes bob", demo.revoke),
            # Right after the revocation: the 2 s promise is timed from it, so nothing runs between.
            ("bob's post is taken down", demo.taken_down),
            ("bob's next clip with alice is refused", demo.refused),
            ("bob's upload of a photo of alice is refused", demo.photo_refused),
        ]
        for name, action in story:
            with step(name) as note:
                note["detail"] = action()
        if keep and len(steps) == TOTAL_STEPS:
            console.print(
                f"\n[bold]Kinora Web[/bold]: {state.gateway_url}/ (sign in as alice or bob, password "
                f"{PASSWORD!r}); Ctrl-C stops the stack",
                highlight=False,
            )
            _wait_for_interrupt()
    except _Abort:
        pass
    finally:
        stopping = time.monotonic()
        stack.stop()
        console.print(f"stack stopped in {time.monotonic() - stopping:.1f} s")
    _summary(console, steps, time.monotonic() - began, out)
    return 0 if len(steps) == TOTAL_STEPS and all(s.ok for s in steps) else 1


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _summary(console: Console, steps: list[Step], total_s: float, out: Path) -> None:
    console.print("\n[bold]Summary[/bold]")
    for s in steps:
        console.print(f"  {'✓' if s.ok else '✗'} {s.name:<50} {s.seconds:6.1f} s", highlight=False)
    passed = sum(s.ok for s in steps)
    clips = sorted(p.name for p in out.glob("*.mp4"))
    console.print(
        f"{passed}/{TOTAL_STEPS} steps passed in {total_s:.0f} s; clips in {out}: {', '.join(clips) or 'none'}",
        highlight=False,
    )
    console.print("`kinora demo --keep` leaves the stack and Kinora Web running after the story", highlight=False)
