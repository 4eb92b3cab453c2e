"""Kinora Web in Chromium on the local stack (issue 21's figures):

- feed, cold: a fresh browser profile (empty HTTP cache, no service worker) opens /feed; time from
  navigation start to the first clip's `playing` event (target <= 1.5 s);
- swipe: with the first clip playing and the next preloaded, scroll one screen; time from the
  scroll to the next clip's `playing` (target <= 300 ms);
- shell: JavaScript + CSS bytes transferred (compressed, headers included, Resource Timing's
  transferSize) on that first load (target <= 150 KB); also the gzip size of every JS/CSS file in
  web/ (what a person who opens every screen downloads).

  .venv/bin/python benchmarks/web_bench.py --runs 5 [--stack-home DIR (a running stack)]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "web"))

from stack_support import PASSWORD, sign_up, start_stack, wait_generation  # noqa: E402
from web_support import PHONE, chromium_path  # noqa: E402

FIRST_PLAYING = """
window.__playing = [];
document.addEventListener('playing', (e) => window.__playing.push({post: e.target.closest('article')?.dataset.post,
  t: performance.now()}), true);
"""


def publish_clips(client: httpx.Client, stack, count: int) -> dict:
    author = sign_up(client, stack)
    for i in range(count):
        gen = client.post(
            "/api/v1/generations",
            headers=author["headers"],
            json={"prompt": f"A red ball bounces on a wooden floor, take {i}", "seconds": 4, "size": "720x1280"},
        )
        assert gen.status_code == 201, gen.text
        gid = gen.json()["generation"]["id"]
        assert wait_generation(client, author, gid)[-1]["status"] == "GENERATION_STATUS_COMPLETED"
        for _ in range(20):  # feed learns of the finished generation from its event
            posted = client.post(
                "/api/v1/posts", headers=author["headers"], json={"generation_id": gid, "caption": f"clip {i}"}
            )
            if posted.status_code != 412:
                break
            time.sleep(0.5)
        assert posted.status_code == 201, posted.text
    return author


def new_viewer(client: httpx.Client, stack, author: dict) -> dict:
    """The feed never serves a post twice to a person, so every cold run is a new person who
    follows the author (their clips come first)."""
    viewer = sign_up(client, stack)
    assert client.post(f"/api/v1/users/{author['handle']}/follow", headers=viewer["headers"]).status_code == 200
    return viewer


def one_run(browser, url: str, handle: str) -> dict:
    context = browser.new_context(viewport=PHONE, service_workers="block")
    try:
        reply = context.request.post(
            f"{url}/api/v1/session",
            data=json.dumps({"handle": handle, "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        assert reply.ok, reply.text()
        page = context.new_page()
        page.add_init_script(FIRST_PLAYING)
        page.goto(f"{url}/feed")
        try:
            page.wait_for_function("() => window.__playing.length > 0", timeout=15_000)
        except Exception:
            page.screenshot(path="/tmp/web-bench-failed.png")
            print(
                page.evaluate(
                    "() => [...document.querySelectorAll('video')].map(v => [v.readyState, v.paused, "
                    "v.error && v.error.message, v.currentSrc.slice(0, 60)])"
                ),
                file=sys.stderr,
            )
            print(page.locator("main").inner_text()[:500], file=sys.stderr)
            raise
        first = page.evaluate("() => window.__playing[0]")
        shell = page.evaluate("""() => performance.getEntriesByType('resource')
            .filter(r => /\\.(js|css)(\\?|$)/.test(new URL(r.name).pathname))
            .map(r => ({name: new URL(r.name).pathname, bytes: r.transferSize}))""")
        nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].transferSize")
        # The next clip is preloaded (readyState >= HAVE_ENOUGH_DATA) before the swipe.
        page.wait_for_function(
            """() => { const s = document.querySelectorAll('#feed-list article video');
            return s.length > 1 && s[1].readyState >= 4; }""",
            timeout=15_000,
        )
        swipe = page.evaluate("""() => new Promise((done) => {
            const list = document.getElementById('feed-list');
            const next = list.querySelectorAll('article')[1].querySelector('video');
            const t0 = performance.now();
            let playing = 0;
            next.addEventListener('playing', () => {
              playing = performance.now() - t0;
              // ...and the first new frame actually presented on screen after that.
              next.requestVideoFrameCallback((now) => done({playing, frame: now - t0}));
            }, {once: true});
            list.scrollBy({top: list.clientHeight, behavior: 'instant'});
        })""")
        return {
            "first_playing_ms": first["t"],
            "swipe_ms": swipe["playing"],
            "swipe_frame_ms": swipe["frame"],
            "js_css_bytes": sum(r["bytes"] for r in shell),
            "html_bytes": nav,
            "files": shell,
        }
    finally:
        context.close()


def all_files_gzip() -> int:
    return sum(len(gzip.compress(p.read_bytes(), 9)) for p in (ROOT / "web").rglob("*") if p.suffix in (".js", ".css"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--stack-home", help="a running stack's KINORA_HOME (default: start one)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if chromium_path() is None:
        sys.exit("chromium is not installed: bash scripts/system-deps.sh")
    stack, started = None, False
    if args.stack_home:
        from test_web_app import RunningStack

        stack = RunningStack(args.stack_home)
    else:
        stack = start_stack(Path(tempfile.mkdtemp(prefix="web-bench-")) / "home")
        started = True
    url = stack.state.gateway_url
    try:
        runs = []
        with httpx.Client(base_url=url, timeout=60) as client, sync_playwright() as p:
            author = publish_clips(client, stack, args.clips)
            viewers = [new_viewer(client, stack, author) for _ in range(args.runs)]
            time.sleep(3)  # feed's post facts are cached a few seconds
            browser = p.chromium.launch(
                executable_path=chromium_path(), args=["--autoplay-policy=no-user-gesture-required"]
            )
            for viewer in viewers:
                runs.append(one_run(browser, url, viewer["handle"]))
            browser.close()
    finally:
        if started:
            stack.stop()
    keys = ("first_playing_ms", "swipe_ms", "swipe_frame_ms", "js_css_bytes", "html_bytes")
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(
        json.dumps(
            {
                "runs": [
                    {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items() if k != "files"} for r in runs
                ],
                "files_first_load": runs[0]["files"],
            },
            indent=1,
        )
    )
    print(
        f"feed first clip playing after navigation (cold): median {med['first_playing_ms']:.0f} ms "
        f"({', '.join(str(round(r['first_playing_ms'])) for r in runs)}) target <= 1500"
    )
    print(
        f"next clip playing after the swipe (preloaded): median {med['swipe_ms']:.0f} ms "
        f"({', '.join(str(round(r['swipe_ms'])) for r in runs)}); its next frame on screen: median "
        f"{med['swipe_frame_ms']:.0f} ms ({', '.join(str(round(r['swipe_frame_ms'])) for r in runs)}) target <= 300"
    )
    print(
        f"JS+CSS transferred on first load: median {med['js_css_bytes'] / 1024:.1f} KB "
        f"(html {med['html_bytes'] / 1024:.1f} KB) "
        f"target <= 150 KB; every JS/CSS file in web/ gzip -9: {all_files_gzip() / 1024:.1f} KB"
    )


if __name__ == "__main__":
    main()
