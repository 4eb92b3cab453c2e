"""The demo's last look: Kinora Web in Debian's Chromium (Playwright), signed in as
one of the story's people, with a screenshot of each screen at phone size in
`out/web/`. docs/web.md shows them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# (name, path, what shows the screen has drawn)
# Alice's feed may hold nothing new: the demo already showed her the post (a feed serves an item once).
SCREENS = [
    ("feed", "/feed", ".slide video, .feed-status:not(:empty)"),
    ("create", "/create", "main h1"),
    ("stitch", "/stitch", "main h1"),
    ("cameo", "/cameo", "main h1"),
    ("profile", "/u/{handle}", "main h1"),
    ("bob", "/u/bob", "main h1"),
    ("settings", "/settings", "main h1"),
    ("check", "/check", "main form"),
]
PHONE = {"width": 360, "height": 740}


def chromium() -> str | None:
    found = Path("/usr/bin/chromium")
    return str(found) if found.exists() else shutil.which("chromium")


def screenshots(base_url: str, handle: str, password: str, out: Path) -> list[Path]:
    """Sign in through the browser session (the refresh cookie, as the app keeps it) and
    photograph each screen once it has drawn. Raises when Chromium is missing."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise RuntimeError("Debian's chromium is not installed (scripts/system-deps.sh installs it)")
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"]
        )
        try:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="en-US")
            reply = context.request.post(
                f"{base_url}/api/v1/session",
                data=json.dumps({"handle": handle, "password": password}),
                headers={"Content-Type": "application/json"},
            )
            if reply.status != 200:
                raise RuntimeError(f"signing in as @{handle} in the browser failed: HTTP {reply.status}")
            page = context.new_page()
            for name, path, drawn in SCREENS:
                page.goto(base_url + path.format(handle=handle), wait_until="load")
                page.locator(drawn).first.wait_for(state="attached", timeout=15_000)
                page.wait_for_timeout(1500)  # the rest of the screen's requests, and a first video frame
                target = out / f"{name}.png"
                page.screenshot(path=str(target))
                shots.append(target)
        finally:
            browser.close()
    return shots
