"""Invisible watermark benchmark (issue 19): does the payload survive what happens to a clip
after it leaves, does anything else read as ours, and what does embedding cost?

    .venv/bin/python benchmarks/watermark_bench.py --clips 20 --seconds 4 --cost-runs 3

- Clips: worldsim through its real generate() (plan, physics, render, visible + invisible
  mark, x264), `--clips` prompts across styles and settings, each with a random 48-bit id.
- Transforms: none, H.264 CRF 28 re-encode (preset medium), 50% downscale, 10% crop,
  metadata strip (re-mux), and all of CRF 28 + 10% crop + 50% downscale at once.
- Per transform: payload recovery rate (payload == id) and bit accuracy (the 48 id bits
  as read at the best sync lock, before Chase decoding and the CRC).
- False positives: the same prompts rendered without the mark, encoded noise, liveness
  fixture clips, and clips marked with another key; any payload at all counts.
- Embed cost: a 10 s 720x1280 clip generated with and without the mark, alternated,
  `--cost-runs` times (wall and process CPU), plus the mark's own CPU per frame.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kinora.media import invisible_mark as im  # noqa: E402
from kinora.media.encode import encode_mp4  # noqa: E402
from kinora.media.transcode import reencode, strip_metadata  # noqa: E402
from kinora.models.contract import ModelRequest  # noqa: E402
from worldsim.model import WorldSim  # noqa: E402

PROMPTS = [
    "a person walks in the park",
    "a basketball player shoots a hoop in the gym, cinematic",
    "rain on a city street at night, anime",
    "a dog runs on the beach",
    "two friends talk in a cafe",
    "a red ball bounces on a wooden floor",
    "a skateboarder rides down a ramp at sunset",
    "snow falls on a quiet forest, cinematic",
    "a cat chases a ball in the living room, anime",
    "a soccer player kicks a ball into the goal",
    "a car drives along a desert road",
    "a woman dances in the rain, realistic",
    "a kid throws a frisbee in the backyard",
    "fireworks over the harbor at night",
    "a chef cooks in a busy kitchen, cinematic",
    "a runner sprints on a track",
    "waves crash on rocks at dawn, anime",
    "a man juggles three balls on the street",
    "a tennis player serves on a clay court",
    "a dog and a cat play in the garden at noon",
]

TRANSFORMS = {
    "none": lambda d: d,
    "h264_crf28": lambda d: reencode(d, crf=28),
    "downscale_50": lambda d: reencode(d, crf=23, scale=0.5),
    "crop_10": lambda d: reencode(d, crf=23, crop=0.1),
    "strip_metadata": strip_metadata,
    "crf28+crop10+scale50": lambda d: reencode(d, crf=28, scale=0.5, crop=0.1),
}


def generate(model: WorldSim, prompt: str, seed: int, seconds: int, watermark_id: int | None) -> tuple[bytes, dict]:
    request = ModelRequest(prompt=prompt, seconds=seconds, seed=seed, watermark="@bench", watermark_id=watermark_id)
    result = model.generate(request, lambda *_: None, lambda: False)
    return result.mp4, result.report


def bit_accuracy(found: im.Detection, payload: int) -> float:
    truth = im._coded_bits(payload)[: im.PAYLOAD_BITS]
    if not found.bits:
        return 0.5
    return float(np.mean(np.array(found.bits[: im.PAYLOAD_BITS]) == truth))


def robustness(model: WorldSim, clips: int, seconds: int) -> tuple[dict, list[bytes], float]:
    results = {name: {"ok": 0, "bits": [], "detect_s": []} for name in TRANSFORMS}
    clean = []
    for index in range(clips):
        prompt, payload = PROMPTS[index % len(PROMPTS)], secrets.randbits(48)
        mp4, _ = generate(model, prompt, 1000 + index, seconds, payload)
        clean.append(generate(model, prompt, 1000 + index, seconds, None)[0])
        line = []
        for name, fn in TRANSFORMS.items():
            data = fn(mp4)
            t = time.perf_counter()
            found = im.detect_video(data)
            results[name]["detect_s"].append(time.perf_counter() - t)
            results[name]["ok"] += found.payload == payload
            results[name]["bits"].append(bit_accuracy(found, payload))
            line.append(f"{name}={'ok' if found.payload == payload else 'MISS'}({found.sync_score:.0f})")
        print(f"clip {index + 1:2d} {prompt[:38]:38s} " + " ".join(line), flush=True)
    return results, clean, 0.0


def false_positives(clean: list[bytes], model: WorldSim, seconds: int) -> dict:
    from kinora.media import liveness_clip

    rng = np.random.default_rng(11)
    noise = [
        encode_mp4([rng.integers(0, 255, (1280, 720, 3), dtype=np.uint8) for _ in range(48)], 720, 1280, 24, None)
        for _ in range(3)
    ]
    liveness = [
        liveness_clip.make_clip(
            "4821",
            liveness_clip.turns_for(["left", "right"]),
            seed=s,
            width=320 * (1 + s % 2),
            height=240 * (1 + s % 2),
        )
        for s in range(3)
    ]
    other_key = []
    for index in range(3):
        embedder_key = f"another deployment {index}"
        request = ModelRequest(prompt=PROMPTS[index], seconds=seconds, seed=index, watermark="@x", watermark_id=None)
        result = model.generate(request, lambda *_: None, lambda: False)
        frames = [f.copy() for f in im_frames(result.mp4)]
        mark = im.Embedder(secrets.randbits(48), 720, 1280, key=embedder_key)
        other_key.append(encode_mp4([mark.apply(f) for f in frames], 720, 1280, 24, None))
    sets = {"worldsim_unmarked": clean, "noise": noise, "liveness_fixtures": liveness, "other_key": other_key}
    out = {}
    for name, clips in sets.items():
        hits = sum(
            im.detect_video(c).payload is not None
            or im.detect_video(reencode(c, crf=28, scale=0.5, crop=0.1)).payload is not None
            for c in clips
        )
        out[name] = (hits, len(clips) * 2)
    return out


def im_frames(mp4: bytes) -> list[np.ndarray]:
    from kinora.media.transcode import decode_rgb

    return decode_rgb(mp4)[0]


def embed_cost(model: WorldSim, runs: int) -> dict:
    with_mark, without, marks = [], [], []
    for run in range(runs):
        for marked in (False, True) if run % 2 == 0 else (True, False):
            c0, t0 = time.process_time(), time.perf_counter()
            _, report = generate(
                model,
                "a basketball player shoots a hoop in the gym",
                7 + run,
                10,
                secrets.randbits(48) if marked else None,
            )
            sample = (time.perf_counter() - t0, time.process_time() - c0)
            (with_mark if marked else without).append(sample)
            if marked:
                marks.append(report["timings_s"]["invisible_mark"])
    frames = [np.ascontiguousarray(f) for f in im_frames(generate(model, "a dog runs on the beach", 3, 4, None)[0])]
    import cv2

    lumas = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    originals = [y.copy() for y in lumas]
    embedder = im.Embedder(1, 720, 1280)
    c0 = time.process_time()
    for plane in lumas:
        embedder.apply(plane)
    per_frame_cpu = (time.process_time() - c0) / len(frames)
    mse = np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(lumas, originals)])
    return {
        "with": with_mark,
        "without": without,
        "mark_s": marks,
        "per_frame_cpu_s": per_frame_cpu,
        "luma_psnr_db": 10 * np.log10(255**2 / mse),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=4, choices=(4, 8, 10))
    parser.add_argument("--cost-runs", type=int, default=3)
    args = parser.parse_args()
    model = WorldSim()
    model.warm_up()

    cost = embed_cost(model, args.cost_runs)
    wall_with = statistics.median(w for w, _ in cost["with"])
    wall_without = statistics.median(w for w, _ in cost["without"])
    cpu_with = statistics.median(c for _, c in cost["with"])
    cpu_without = statistics.median(c for _, c in cost["without"])
    print(f"\nembed cost, 10 s 720x1280 clip, {args.cost_runs} runs each (median):")
    print(
        f"  generation wall {wall_without:.2f} s without, {wall_with:.2f} s with: "
        f"{100 * (wall_with / wall_without - 1):+.1f}%"
    )
    print(
        f"  generation CPU  {cpu_without:.2f} s without, {cpu_with:.2f} s with: "
        f"{100 * (cpu_with / cpu_without - 1):+.1f}%"
    )
    mark_s = statistics.median(cost["mark_s"])
    print(
        f"  the mark itself: {1000 * cost['per_frame_cpu_s']:.2f} ms CPU per 720x1280 Y plane; {mark_s:.2f} s per "
        f"clip inside generate() = {100 * mark_s / wall_without:.1f}% of the clip's generation wall time; "
        f"luma PSNR {cost['luma_psnr_db']:.1f} dB",
        flush=True,
    )

    results, clean, _ = robustness(model, args.clips, args.seconds)
    print(f"\nrobustness over {args.clips} worldsim clips of {args.seconds} s:")
    print(f"  {'transform':22s} {'recovered':>10s} {'bit acc (median/min)':>22s} {'detect s (median)':>18s}")
    for name, r in results.items():
        print(
            f"  {name:22s} {r['ok']:4d}/{args.clips:<4d}  {statistics.median(r['bits']):8.3f} / {min(r['bits']):.3f}"
            f"   {statistics.median(r['detect_s']):10.2f}"
        )
    print("\nfalse positives (any payload read; each clip as is and after CRF 28 + crop + downscale):")
    for name, (hits, total) in false_positives(clean, model, args.seconds).items():
        print(f"  {name:20s} {hits}/{total}")


if __name__ == "__main__":
    main()
