"""Helpers for driving Kinora Web in Debian's Chromium: the launch arguments (a fake camera and
microphone fed from files), the fake-capture files that answer a liveness challenge, and axe."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import cv2
import numpy as np

from kinora.media.liveness_clip import AUDIO_RATE, mouth_track, render_frames, speak_digits, speakable, turns_for

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}
# The page records this long (web/js/cameo.js RECORD_SECONDS); the fake files last longer so that
# Chromium, which loops them, never starts over inside a recording.
RECORD_SECONDS = 9
FAKE_SECONDS = RECORD_SECONDS + 1.5


def chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def launch_args(y4m: Path, wav: Path) -> list[str]:
    """Chromium opens the capture files when getUserMedia asks for the camera, not at launch, so a
    test may write them once the page has shown its challenge."""
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}", f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required", "--no-sandbox"]


def answerable(digits: str, turns: list[str]) -> bool:
    """The synthetic speaker and head can answer this challenge (espeak-ng's 6, 8 and 9 are misheard;
    the rendered head turns left and right only)."""
    return speakable(digits) and bool(turns) and set(turns) <= {"left", "right"}


def write_fake_capture(digits: str, turns: list[str], y4m: Path, wav: Path, seconds: float = FAKE_SECONDS) -> None:
    """A person reading `digits` aloud with moving lips and turning their head as asked: Y4M video
    (320x240, 15 fps) and 48 kHz mono WAV, what Chromium's fake devices play."""
    spoken = "".join(ch for ch in digits if ch.isdigit())
    audio = speak_digits(spoken, seconds=seconds)
    frames = render_frames(width=320, height=240, fps=15, duration_s=seconds, turns=turns_for(turns, seconds),
                           head="3d", mouth=mouth_track(audio))
    tmp = y4m.with_suffix(".part")
    with open(tmp, "wb") as out:
        out.write(b"YUV4MPEG2 W320 H240 F15:1 Ip A1:1 C420jpeg\n")
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420).tobytes())
    tmp.replace(y4m)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes(pcm.tobytes())


def serious_violations(page) -> list[str]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in ("serious", "critical"):
            targets = [", ".join(node.get("target", [])) for node in violation.get("nodes", [])][:3]
            found.append(f"{violation['id']} ({violation['impact']}): {violation.get('help')} at {targets}")
    return found


def video_time(page, selector: str) -> float:
    return page.eval_on_selector(selector, "v => v.currentTime")


def wait_playing(page, selector: str, advance_s: float = 0.4, timeout_ms: int = 20_000) -> float:
    """Waits until the video's currentTime has advanced by advance_s (it is really playing)."""
    page.wait_for_function(
        """([sel, step]) => { const v = document.querySelector(sel);
             if (!v) return false;
             if (v.dataset.t0 === undefined) v.dataset.t0 = v.currentTime;
             return !v.paused && v.currentTime - Number(v.dataset.t0) >= step; }""",
        arg=[selector, advance_s], timeout=timeout_ms)
    return video_time(page, selector)


# -- a person in the browser, signed in through the app's cookie session -------------------------

PASSWORD = "correct horse battery staple"


class RunningStack:
    """A stack someone already started (KINORA_WEB_TEST_STACK=<its KINORA_HOME>): for working on the
    app without paying the stack's start-up on every run. Same surface as LocalStack for these tests."""

    def __init__(self, home: str):
        from kinora.stack.local import StackState

        self.home = Path(home)
        self.state = StackState.load(self.home / "stack.json")

    def addr(self, name: str) -> str:
        return next(c.address for c in self.state.components if c.name == name)


def phone_context(browser, locale: str = "en-US"):
    """A phone-sized context and page; the page's script errors collect in `page.js_errors`."""
    context = browser.new_context(viewport=PHONE, locale=locale, device_scale_factor=1, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.js_errors = errors
    return context, page


def browser_signup(context, gateway_url: str, invite_code: str, handle: str, birthdate: str = "1990-05-01") -> dict:
    """Sign up through the browser-session API from this context (its cookies are set, as the app's)."""
    import json

    reply = context.request.post(f"{gateway_url}/api/v1/session/signup", data=json.dumps({
        "invite_code": invite_code, "handle": handle, "password": PASSWORD, "birthdate": birthdate,
        "region": "US"}), headers={"Content-Type": "application/json"})
    assert reply.status == 201, reply.text()
    return reply.json()


def browser_fetch(context, gateway_url: str, method: str, path: str, body=None):
    """The public API as this context's signed-in person (a fresh access token from its cookie): the
    Playwright response, whatever its status."""
    import json

    csrf = next(c["value"] for c in context.cookies() if c["name"] == "kinora_csrf")
    refreshed = context.request.post(f"{gateway_url}/api/v1/session/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.ok, refreshed.text()
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}", "Content-Type": "application/json"}
    return context.request.fetch(f"{gateway_url}/api/v1{path}", method=method, headers=headers,
                                 data=json.dumps(body) if body is not None else None)


def browser_call(context, gateway_url: str, method: str, path: str, body=None) -> dict:
    """browser_fetch's JSON answer; anything but a 2xx fails the test."""
    reply = browser_fetch(context, gateway_url, method, path, body)
    assert reply.ok, f"{method} {path}: {reply.status} {reply.text()}"
    return reply.json()
