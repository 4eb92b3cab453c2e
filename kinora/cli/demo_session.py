"""The demo's session (kinora.cli.demo): the gateway's REST API as the app calls it, the demo's
two users, and what every step of the story relies on: waiting for events (naming the component
that owed one), signing up with an invite, creating and following a generation, saving its clip."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.media.probe import probe_mp4
from kinora.runtime.auth import mint_service_token
from kinora.stack.local import LocalStack, log_tail, operator_channel

PASSWORD = "correct horse battery staple"


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
class DemoSession:
    """The stack, the API and the story's users; the story's steps are kinora.cli.demo_steps.Demo."""

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
