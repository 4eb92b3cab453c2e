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

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from kinora.cli.demo_session import PASSWORD, Api, StepFailed
from kinora.cli.demo_steps import DEMAND_FREE_CLIPS, Demo
from kinora.stack.local import DEFAULT_PORTS, LocalStack
from kinora.stack.tansu import free_port

# Settings the demo's stack runs with (environment variables, as in production).
DEMO_ENV = {
    "KINORA_DEMAND_INTERVAL_SECONDS": "1",  # generator → billing queue reports (production: 15 s)
    "KINORA_BILLING_DEMAND_QUEUE_DEPTH": "1",  # one waiting free job = high demand (production: 50)
    "KINORA_BILLING_DEMAND_FREE_ALLOWANCE": str(DEMAND_FREE_CLIPS),
    "KINORA_WORKER_SLOTS": "1",  # one job at a time, like one GPU, so the demo's jobs really queue
    "KINORA_METRICS_BASE_PORT": "0",  # free ports, so the demo runs beside a `kinora up`
}
TOTAL_STEPS = 19  # the stack's start and the 18 steps of the story


@dataclass
class Step:
    number: int
    name: str
    ok: bool
    detail: str
    seconds: float


class _Abort(Exception):
    """A step failed; the rest of the story depends on it."""


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
