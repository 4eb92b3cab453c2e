"""Storyboards and stitching in Kinora Web (issue 24), in Debian's Chromium driven by Playwright against
the whole local stack, at phone size, the way a person does it: on Create, a 3-shot storyboard is laid
out (shots added, moved and removed with the keyboard, the total said against the model's limit, the
API's refusals shown under the form), priced and made, and the finished clip plays and decodes to the
shots' total; on Stitch, two finished clips are picked, put in the other order, joined with a crossfade
and a title, and the result plays and decodes to the sources' length less the crossfade. axe-core finds
nothing serious or critical on any of these screens. Screenshots land in out/web/."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_support import (  # noqa: E402
    RunningStack,
    browser_call,
    browser_fetch,
    browser_signup,
    chromium_path,
    phone_context,
    serious_violations,
    wait_playing,
)

from kinora.media.probe import probe_mp4  # noqa: E402

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="Debian's chromium is not installed (scripts/system-deps.sh installs it)")

SHOTS_DIR = Path(__file__).resolve().parents[2] / "out" / "web"
FRAME_S = 1 / 24
FAILED = "main p.error[role=alert]:not(:empty)"  # a refusal or a failed generation, said on the page
DONE = ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED", "GENERATION_STATUS_CANCELED")


@pytest.fixture(scope="module")
def stack(shared_stack):
    if os.environ.get("KINORA_WEB_TEST_STACK"):
        return RunningStack(os.environ["KINORA_WEB_TEST_STACK"])
    return shared_stack.get()  # the one tests/e2e and test_web_app use (tests/conftest.py)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(),
                                     args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def person(stack, browser):
    """One person signed in in a phone-sized browser; what the tests made, for the next ones."""
    from stack_support import invite

    context, page = phone_context(browser)
    handle = f"dana{uuid.uuid4().hex[:6]}"
    browser_signup(context, stack.state.gateway_url, invite(stack), handle)
    made: dict = {"context": context, "page": page, "handle": handle}
    yield made
    try:
        browser_call(context, stack.state.gateway_url, "DELETE", "/me", {"password": "correct horse battery staple"})
    except Exception:  # noqa: BLE001 - best effort; the stack goes away anyway
        pass
    context.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, person):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            person["page"].screenshot(path=str(SHOTS_DIR / f"failed-{request.node.name}.png"), full_page=True)
        except Exception:  # noqa: BLE001 - the failure itself is what matters
            pass


def screen(page, name: str, *, full_page: bool = False) -> None:
    """Screenshot to out/web/<name>.png, then the same checks as test_web_app: nothing wider than the
    screen, no axe violation of impact serious or critical, no script error."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.wait_for_function("() => !document.getElementById('toast').textContent")  # messages last 6 s
    page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=full_page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than the screen"
    found = serious_violations(page)
    assert not found, f"axe on {name}: " + "; ".join(found)
    assert not page.js_errors, f"script errors on {name}: {page.js_errors}"


def decoded(page) -> tuple[str, float, bool]:
    """The finished clip on the page: its generation id, and its MP4 fetched by the <video>'s own signed
    URL and decoded (length in seconds, whether it has sound)."""
    video = page.locator("video.result-clip")
    src = video.evaluate("v => v.currentSrc")
    body = page.context.request.get(src).body()
    facts = probe_mp4(body)
    return video.get_attribute("data-generation"), facts.duration_s, facts.has_audio


def lake_picture() -> bytes:
    """A 720x1280 PNG: sky over a lake, no one in it."""
    import io

    import numpy as np
    from PIL import Image

    rows = np.linspace(0, 1, 1280)[:, None, None]
    sky, water = np.array([150, 190, 235]), np.array([30, 70, 110])
    pixels = np.where(rows < 0.55, sky * (1 - rows / 2), water * (1 + rows / 4)).clip(0, 255)
    out = io.BytesIO()
    Image.fromarray(np.broadcast_to(pixels, (1280, 720, 3)).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def shot_prompts(page) -> list[str]:
    return page.locator("ol.shots textarea").evaluate_all("nodes => nodes.map(n => n.value)")


@pytest.mark.timeout(360)
def test_storyboard_of_three_shots_in_the_browser(stack, person):
    page, base = person["page"], stack.state.gateway_url
    page.goto(f"{base}/create")
    page.get_by_role("heading", name="Create a clip").wait_for()
    page.get_by_role("radio", name="Storyboard (several shots)").check()
    # Three shots to start with; the single prompt and duration give way to them.
    assert page.locator("ol.shots > li").count() == 3
    assert not page.get_by_label("Describe the scene").is_visible()
    prompts = ["a red kite rises over a grassy hill on a windy morning",
               "the kite string snaps and the kite drifts over a lake",
               "a child laughs and runs along the shore after the kite"]
    for n, (text, seconds, camera) in enumerate(zip(prompts, ("3", "4", "3"), ("Push in", "Pan left", "Still")), 1):
        page.get_by_label(f"Shot {n}: what happens").fill(text)
        page.get_by_label(f"Shot {n}: length").select_option(seconds)
        page.get_by_label(f"Shot {n}: camera").select_option(label=camera)
    # Shot 2 starts from a picture of its own (sent as image_b64; it moves with the shot below).
    page.get_by_label("Shot 2: first image").set_input_files(
        files=[{"name": "lake.png", "mimeType": "image/png", "buffer": lake_picture()}])
    total = page.locator(".shot-total")
    assert total.inner_text() == "Total 10 s of the 15 s a Standard storyboard allows (3 shots)."

    # Over the model's limit: said at once, and See the price says what to fix instead of asking.
    page.get_by_label("Shot 1: length").select_option("12")
    assert "over the 15 s a Standard storyboard allows" in total.inner_text()
    page.get_by_role("button", name="See the price").click()
    page.get_by_role("alert").filter(has_text="over the 15 s").wait_for()
    page.get_by_label("Shot 1: length").select_option("3")
    # Pro allows 25 s, but this person has no Pro plan: the API's own refusal is shown under the form.
    page.get_by_label("Quality").select_option("pro")
    assert total.inner_text().startswith("Total 10 s of the 25 s a Pro storyboard allows")
    page.get_by_role("button", name="See the price").click()
    page.get_by_role("alert").filter(has_text="needs a Pro subscription").wait_for()
    page.get_by_label("Quality").select_option("standard")

    # Keyboard only: add a fourth shot, move it to the top, remove it; move shot 3 up and back.
    page.get_by_role("button", name="Add a shot").focus()
    page.keyboard.press("Enter")
    assert page.locator("ol.shots > li").count() == 4
    focused = page.evaluate("() => document.activeElement.labels?.[0]?.innerText || ''")
    assert focused.startswith("Shot 4: what happens"), focused  # the new shot's prompt has the focus
    page.keyboard.type("a spare shot")
    for n in (4, 3, 2):
        page.get_by_role("button", name=f"Move shot {n} up").focus()
        page.keyboard.press("Enter")
    assert shot_prompts(page)[0] == "a spare shot"
    page.get_by_role("button", name="Remove shot 1").focus()
    page.keyboard.press("Enter")
    assert shot_prompts(page) == prompts
    page.get_by_role("button", name="Move shot 3 up").click()
    assert shot_prompts(page) == [prompts[0], prompts[2], prompts[1]]
    page.get_by_role("button", name="Move shot 2 down").click()
    assert shot_prompts(page) == prompts
    assert total.inner_text().startswith("Total 10 s of the 15 s")
    page.locator("fieldset.storyboard").evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, "create-storyboard")

    page.get_by_role("button", name="See the price").click()
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("progressbar", name="Progress").wait_for()
    page.get_by_role("heading", name="Your clip is ready").wait_for(timeout=240_000)
    wait_playing(page, "video.result-clip")
    assert "3 shots" in page.locator("p.clip-facts").inner_text()
    screen(page, "create-storyboard-ready", full_page=True)

    gen_id, seconds, sound = decoded(page)
    assert abs(seconds - 10) <= 2 * FRAME_S and sound, (seconds, sound)
    gen = browser_call(person["context"], base, "GET", f"/generations/{gen_id}")["generation"]
    assert [s["prompt"] for s in gen["shots"]] == prompts, gen["shots"]
    assert [s["seconds"] for s in gen["shots"]] == [3, 4, 3]
    assert [s.get("camera", "") for s in gen["shots"]] == ["push_in", "pan_left", "static"]
    assert [bool(s.get("has_image")) for s in gen["shots"]] == [False, True, False]
    person["storyboard"] = gen_id


def made_clip(context, base: str, prompt: str, seconds: int, size: str = "720x1280") -> str:
    """A plain clip made through the API (the browser part of this file is the stitch)."""
    gen = browser_call(context, base, "POST", "/generations", {"prompt": prompt, "seconds": seconds, "size": size,
                                                                "seed": 7})["generation"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        reply = browser_fetch(context, base, "GET", f"/generations/{gen['id']}")
        # A 503 is a service busy on a loaded machine for a moment: asked again, like any poll.
        assert reply.ok or reply.status == 503, f"GET /generations/{gen['id']}: {reply.status} {reply.text()}"
        got = reply.json()["generation"] if reply.ok else gen
        if got["status"] in DONE:
            assert got["status"] == "GENERATION_STATUS_COMPLETED", got
            return got["id"]
        time.sleep(0.5)
    raise AssertionError(f"{prompt!r} did not finish within 240 s")


@pytest.mark.timeout(360)
def test_stitch_two_clips_in_the_browser(stack, person):
    page, context, base = person["page"], person["context"], stack.state.gateway_url
    first = made_clip(context, base, "waves roll onto a sandy beach at noon", 4)
    second = made_clip(context, base, "a lighthouse blinks at dusk over the sea", 4)
    wide = made_clip(context, base, "a sailboat crosses a calm bay", 4, size="1280x720")

    page.goto(f"{base}/create")
    page.get_by_role("link", name="Stitch your clips together").click()
    page.wait_for_url("**/stitch")
    page.get_by_role("heading", name="Stitch clips").wait_for()
    pick = {gid: page.locator(f'input[type=checkbox][value="{gid}"]') for gid in (first, second, wide)}
    for box in pick.values():
        box.wait_for()
    assert page.get_by_role("checkbox", name=re.compile("waves roll onto a sandy beach")).count() == 1

    # One clip is not a stitch: said under the form, nothing sent.
    pick[first].check()
    page.get_by_role("button", name="Stitch", exact=True).click()
    page.get_by_role("alert").filter(has_text="Pick at least 2 clips").wait_for()
    # Clips of two sizes: the API's refusal is shown, and the form stays.
    pick[wide].check()
    page.get_by_role("button", name="Stitch", exact=True).click()
    alert = page.get_by_role("alert")
    alert.filter(has_text=re.compile(r"\S")).wait_for()
    assert "size" in alert.inner_text().lower(), alert.inner_text()
    page.get_by_role("button", name=re.compile("Remove a sailboat crosses a calm bay")).click()
    assert not pick[wide].is_checked()

    pick[second].check()
    order = page.locator("ol.order-list > li")
    assert order.evaluate_all("items => items.map(i => i.dataset.generation)") == [first, second]
    # Keyboard: the lighthouse goes first.
    page.get_by_role("button", name=re.compile("Move a lighthouse blinks at dusk over the sea earlier")).focus()
    page.keyboard.press("Enter")
    assert order.evaluate_all("items => items.map(i => i.dataset.generation)") == [second, first]
    page.get_by_label("Join").select_option("0.5")
    assert page.locator(".shot-total").inner_text() == "2 clips, about 7.5 s together."
    page.get_by_label("Title (optional)").fill("Beach day")
    page.get_by_role("heading", name="Play order").evaluate("e => e.scrollIntoView({block: 'start'})")
    screen(page, "stitch")

    page.get_by_role("button", name="Stitch", exact=True).click()
    page.get_by_role("progressbar", name="Progress").wait_for()
    page.get_by_role("heading", name="Your clip is ready").wait_for(timeout=180_000)
    wait_playing(page, "video.result-clip")
    assert "stitched from 2 clips" in page.locator("p.clip-facts").inner_text()
    screen(page, "stitch-ready", full_page=True)

    gen_id, seconds, sound = decoded(page)
    assert abs(seconds - 7.5) <= 2 * FRAME_S and sound, (seconds, sound)
    gen = browser_call(context, base, "GET", f"/generations/{gen_id}")["generation"]
    assert gen["stitch_of"] == [second, first] and gen["crossfade_seconds"] == 0.5 and gen["prompt"] == "Beach day"


def new_clip_plays(page, old_id: str) -> None:
    """Waits until the clip made from `old_id` is on the page, or its failure is said; then it plays."""
    page.wait_for_function(
        """([id, failed]) => { const v = document.querySelector('video.result-clip');
                               return (v && v.dataset.generation !== id) || document.querySelector(failed); }""",
        arg=[old_id, FAILED], timeout=240_000)
    failure = page.locator(FAILED)
    assert not failure.count(), failure.first.inner_text()
    wait_playing(page, "video.result-clip")


@pytest.mark.timeout(480)
def test_change_then_extend_the_storyboard_clip(stack, person):
    """Under a finished clip: Change it (an edit that keeps the length) and Make it longer (the whole
    clip, source + new part), each followed in place until the new clip plays."""
    page, context, base = person["page"], person["context"], stack.state.gateway_url
    source = person.get("storyboard")
    if source is None:
        pytest.skip("the storyboard test made no clip")
    page.goto(f"{base}/create?draft={source}")
    page.get_by_role("heading", name="Your clip is ready").wait_for()
    page.get_by_role("button", name="Make the change").click()
    page.get_by_role("alert").filter(has_text="Say what to change.").wait_for()
    page.get_by_label("What to change").fill("make it night")
    page.get_by_role("button", name="Make the change").click()
    page.get_by_role("progressbar", name="Progress").wait_for()
    new_clip_plays(page, source)
    changed, seconds, sound = decoded(page)
    assert abs(seconds - 10) <= 2 * FRAME_S and sound, (seconds, sound)
    assert browser_call(context, base, "GET", f"/generations/{changed}")["generation"]["edit_of"] == source

    page.get_by_label("What happens next").fill("the kite lands softly in a tall oak tree")
    page.get_by_label("Seconds to add").select_option("4")
    page.get_by_role("button", name="Extend").click()
    page.get_by_role("progressbar", name="Progress").wait_for()
    new_clip_plays(page, changed)
    longer, seconds, sound = decoded(page)
    assert abs(seconds - 14) <= 2 * FRAME_S and sound, (seconds, sound)
    assert browser_call(context, base, "GET", f"/generations/{longer}")["generation"]["extend_of"] == changed
    page.get_by_role("heading", name="Make it longer").scroll_into_view_if_needed()
    screen(page, "create-changes")
