"""The output scan's cost: the time to scan a finished 10 s 720x1280 clip
(sample its keyframes, find and embed every face, small ones included) against
the time worldsim takes to generate that clip, on this CPU, side by side: each
run generates a clip and then scans it, and the medians over the runs are
compared, in wall time and in CPU time (the process's, over all its threads).
Target: the scan adds <= 5%. The clip shows a cameo whose face is the
astronaut portrait (as worldsim draws a verified face crop), so the scan has a
face to embed. The worker hands the scan the keyframes it decoded for the
spritesheet, so "scan" excludes decoding; decoding the keyframes again (what
a caller with only the MP4 pays) is shown apart. The MatchFaces call to
identity (one per clip) is not included.

    .venv/bin/python benchmarks/output_scan_bench.py [--runs 5] [--every 4] [--prompt "..."] [--whole-frame]
        [--each-keyframe]

--each-keyframe searches every sampled keyframe whole and embeds every face it finds (the figure
before kinora/ml/keyframe_faces.py searched a keyframe only where it changed since the previous one).

--recall checks the candidate pass (kinora.ml.regions) instead: every face of
benchmarks/face_eval.py's labelled set, augmented as there (all its
augmentations of the crop) and scaled to 44, 56 and 72 px wide, pasted into
worldsim frames of three prompts and into face_eval's textured canvas; each
picture is searched whole and through the candidate pass, and the faces found
are counted for both (a face counts when a box lies within half its width of
where it was pasted). A third count is the output scan's own path: the picture
as the second keyframe after the background without the face
(kinora/ml/keyframe_faces.py searches only where the two differ).

    .venv/bin/python benchmarks/output_scan_bench.py --recall
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
from pathlib import Path

import skimage.data
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kinora.media.thumbs import keyframes  # noqa: E402
from kinora.ml import faces, keyframe_faces  # noqa: E402
from kinora.models.contract import Cameo, ModelRequest  # noqa: E402
from services.generator import likeness  # noqa: E402
from services.generator.likeness import LikenessGuard  # noqa: E402
from worldsim.model import WorldSim  # noqa: E402


def face_crop() -> bytes:
    """The astronaut's face with a margin, like a verification's face crop."""
    picture = skimage.data.astronaut()
    x, y, w, h = faces.find_faces(picture)[0].box
    pad = int(w * 0.4)
    out = io.BytesIO()
    Image.fromarray(picture[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]).save(out, "PNG")
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--every", type=float, default=likeness.SAMPLE_EVERY_S, help="seconds of clip per sampled frame"
    )
    parser.add_argument("--prompt", default="alice waves at the camera in a park")
    parser.add_argument("--recall", action="store_true", help="check the candidate pass's recall instead")
    parser.add_argument(
        "--whole-frame",
        action="store_true",
        help="search whole frames, without the candidate pass (the figure before it)",
    )
    parser.add_argument(
        "--no-whole",
        action="store_true",
        help="--recall without the whole-frame search (the slowest third; its count is then 0)",
    )
    parser.add_argument(
        "--each-keyframe",
        action="store_true",
        help="search each sampled keyframe whole and embed every face found in each",
    )
    args = parser.parse_args()
    if args.whole_frame:
        from kinora.ml import regions

        regions.ENABLED = False
    if args.each_keyframe:
        keyframe_faces.TRACK = False
    if args.recall:
        return recall(whole_frame=not args.no_whole)
    likeness.SAMPLE_EVERY_S = args.every
    faces.load()
    model = WorldSim()
    model.warm_up()
    request = ModelRequest(
        prompt=args.prompt,
        seconds=10,
        width=720,
        height=1280,
        seed=7,
        quality="standard",
        watermark="@bob",
        cameos=[Cameo(name="alice", face_pngs=[face_crop()])],
    )
    guard = LikenessGuard(None)  # faces only: whose they are is one RPC to identity
    generate, generate_cpu, scan, scan_cpu, decode, found = [], [], [], [], [], None
    for _ in range(args.runs):
        mp4, wall, cpu = _measured(lambda: model.generate(request, lambda *_: None, lambda: False).mp4)
        generate.append(wall)
        generate_cpu.append(cpu)
        frames, wall, _ = _measured(lambda mp4=mp4: keyframes(mp4, 1000))
        decode.append(wall)
        found, wall, cpu = _measured(lambda mp4=mp4, frames=frames: asyncio.run(guard.check_output(mp4, [], frames)))
        scan.append(wall)
        scan_cpu.append(cpu)
    g, gc, s, sc = (statistics.median(v) for v in (generate, generate_cpu, scan, scan_cpu))
    d = statistics.median(decode)
    seen = keyframe_faces.find_in_keyframes([rgb for _, rgb in likeness.sample(frames)])
    print(
        f"clip: 10 s 720x1280, prompt {args.prompt!r}; {found.frames} frames sampled (one per {args.every:g} s), "
        f"{found.faces} faces found, {seen.embedded} embedded; share of each frame searched: "
        + ", ".join(f"{100 * share:.0f}%" for share in seen.searched)
    )
    print(f"load average at the end: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(
        "per run (generation wall / CPU s, scan wall / CPU ms): "
        + "; ".join(
            f"{a:.2f}/{b:.2f} {1000 * c:.0f}/{1000 * e:.0f}"
            for a, b, c, e in zip(generate, generate_cpu, scan, scan_cpu)
        )
    )
    print(f"generation (worldsim, median of {len(generate)}): {g:.2f} s wall, {gc:.2f} s CPU")
    print(
        f"output scan (median of {len(scan)}): {s * 1000:.0f} ms wall, {sc * 1000:.0f} ms CPU "
        f"(+ {d * 1000:.0f} ms to decode the keyframes when the caller has only the MP4)"
    )
    print(
        f"scan / generation: {100 * s / g:.1f}% wall, {100 * sc / g:.1f}% of generation wall in CPU, "
        f"{100 * sc / gc:.1f}% of generation CPU (target <= 5%)"
    )
    return 0


RECALL_PROMPTS = (
    "alice waves at the camera in a park",
    "alice walks on a beach at sunset",
    "alice and bob dance in a neon city at night",
)


def recall(whole_frame: bool = True) -> int:
    import numpy as np
    from face_eval import CANVAS, augmentations, load_set

    from kinora.ml import regions

    faces.load()
    model = WorldSim()
    model.warm_up()
    backgrounds = []
    for n, prompt in enumerate(RECALL_PROMPTS):
        request = ModelRequest(
            prompt=prompt, seconds=10, width=720, height=1280, seed=n, quality="standard", watermark="@bob", cameos=[]
        )
        mp4 = model.generate(request, lambda *_: None, lambda: False).mp4
        backgrounds += [Image.fromarray(rgb) for _, rgb in likeness.sample(keyframes(mp4, 1000))]
    rng = np.random.default_rng(0)
    canvas = rng.integers(40, 200, (CANVAS[1] // 16, CANVAS[0] // 16, 3), dtype=np.uint8)
    backgrounds.append(Image.fromarray(canvas).resize(CANVAS, Image.BILINEAR))
    whole = candidates = tracked = total = 0
    cpu_whole = cpu_candidates = 0.0
    lost, lost_tracked = [], []
    for n, item in enumerate(load_set()):
        box_width = faces.find_faces(np.asarray(item["image"]))[0].box[2]
        for kind, probe in augmentations(item["image"], box_width, seed=n).items():
            if kind.startswith("in_720x1280"):
                continue
            for width in (44, 56, 72, 100, 140, 200):
                factor = width / box_width
                small = probe.resize(
                    (max(1, int(probe.width * factor)), max(1, int(probe.height * factor))), Image.LANCZOS
                )
                before = backgrounds[total % len(backgrounds)]
                background = before.copy()
                x, y = int(rng.integers(0, CANVAS[0] - small.width)), int(rng.integers(0, CANVAS[1] - small.height))
                background.paste(small, (x, y))
                rgb = np.asarray(background)
                centre = (x + small.width / 2, y + small.height / 2)
                total += 1

                def hit(found, centre=centre, width=width):
                    return any(
                        abs(f.box[0] + f.box[2] / 2 - centre[0]) < width / 2
                        and abs(f.box[1] + f.box[3] / 2 - centre[1]) < width / 2
                        for f in found
                    )

                hits = []
                for use_regions in (False, True) if whole_frame else (True,):
                    regions.ENABLED = use_regions
                    started = time.process_time()
                    found = faces.find_faces(rgb, small_faces=True, rolled=False)
                    spent = time.process_time() - started
                    hits.append(hit(found))
                    if use_regions:
                        cpu_candidates += spent
                    else:
                        cpu_whole += spent
                # The output scan's path: this picture as the keyframe after the background.
                hits.append(hit(keyframe_faces.find_in_keyframes([np.asarray(before), rgb]).per_frame[1]))
                if not whole_frame:
                    hits.insert(0, False)
                whole += hits[0]
                candidates += hits[1]
                tracked += hits[2]
                where = f"{item['identity']}/{kind}/{width}px"
                if hits[0] and not hits[1]:
                    lost.append(where)
                if hits[1] and not hits[2]:
                    lost_tracked.append(f"{where} (found by the candidate pass)")
                elif hits[0] and not hits[2]:
                    lost_tracked.append(where)
    print(
        f"{total} pasted faces (44-200 px) in {len(backgrounds)} backgrounds: whole-frame search found {whole}, "
        f"candidate pass found {candidates}; CPU {1000 * cpu_whole / total:.0f} vs "
        f"{1000 * cpu_candidates / total:.0f} ms a frame"
    )
    for miss in lost:
        print("  lost by the candidate pass:", miss)
    print(
        f"as the keyframe after its background (searched where it changed, kinora/ml/keyframe_faces.py): "
        f"found {tracked}"
    )
    for miss in lost_tracked:
        print("  lost by the keyframe search:", miss)
    return 0


def _measured(fn):
    """fn's result, wall seconds and CPU seconds of this process (every thread)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - started, time.process_time() - cpu


if __name__ == "__main__":
    sys.exit(main())
