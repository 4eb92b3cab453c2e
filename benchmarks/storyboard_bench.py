"""worldsim storyboards: wall and CPU time for a 25 s pro and a 15 s standard storyboard of 3 shots.

    .venv/bin/python benchmarks/storyboard_bench.py [--runs 3] [--only pro|standard]

Targets (2-core machine): the 25 s pro storyboard (1080x1920) within 1.5x real time (37.5 s wall),
the 15 s standard one (720x1280) within real time (15 s wall). Each run is a full
WorldSim.generate (plan, simulate every shot, one audio track, render, encode, thumbnail); "cpu"
is the process's CPU time over all threads, which other jobs on a shared machine do not inflate
(wall is, at best, about cpu / 2 on an idle 2-core machine). The load average is printed before
and after each case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from kinora.models.contract import ModelRequest, Shot
from worldsim.model import WorldSim

LINE = '"what a day for a game, come on, let us play"'
CASES = {
    "pro": (
        "pro",
        1080,
        1920,
        [
            Shot(f"a basketball player dribbles on the court and says {LINE}", 9),
            Shot("the player shoots a three-pointer", 8, camera="push_in"),
            Shot("the player walks in the park at sunset", 8, camera="pan_right"),
        ],
    ),
    "standard": (
        "standard",
        720,
        1280,
        [
            Shot("a dog chases a ball in the park", 5),
            Shot("the dog jumps", 5, camera="pan_left"),
            Shot("the dog runs on the beach", 5),
        ],
    ),
}
STAGES = ("plan", "simulate", "audio", "render", "encode")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CASES))
    args = parser.parse_args()
    model = WorldSim()
    model.warm_up()
    print(f"cpu cores: {os.cpu_count()}")
    for name, (quality, width, height, shots) in CASES.items():
        if args.only and name != args.only:
            continue
        seconds = sum(s.seconds for s in shots)
        load_before = os.getloadavg()[0]
        rows = []
        for run in range(args.runs):
            request = ModelRequest(
                prompt=f"storyboard bench {name}",
                seconds=seconds,
                width=width,
                height=height,
                seed=run,
                quality=quality,
                watermark="@bench",
                shots=shots,
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            result = model.generate(request, lambda p, s: None, lambda: False)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started  # all threads of this process, incl. x264
            rows.append({**result.report["timings_s"], "wall": wall, "cpu": cpu, "mb": len(result.mp4) / 1e6})
        median = {key: statistics.median(r[key] for r in rows) for key in (*STAGES, "wall", "cpu", "mb")}
        stages = "  ".join(f"{k} {median[k]:.2f}s" for k in STAGES)
        walls = ", ".join(f"{r['wall']:.2f}" for r in rows)
        cpus = ", ".join(f"{r['cpu']:.2f}" for r in rows)
        print(
            f"{name:8s} {width}x{height} {seconds}s, {len(shots)} shots  median: {stages}\n"
            f"         wall {median['wall']:.2f}s (runs: {walls}) = {median['wall'] / seconds:.2f}x real time; "
            f"cpu {median['cpu']:.2f}s (runs: {cpus}) = {median['cpu'] / seconds:.2f}x; mp4 {median['mb']:.1f} MB; "
            f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        )
    print("cpu = process CPU seconds over all threads; with other jobs on the machine, wall > cpu / cores.")


if __name__ == "__main__":
    main()
