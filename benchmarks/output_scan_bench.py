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

    .venv/bin/python benchmarks/output_scan_bench.py [--runs 5] [--every 4] [--prompt "..."]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

import skimage.data
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kinora.media.thumbs import keyframes  # noqa: E402
from kinora.ml import faces  # noqa: E402
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
    Image.fromarray(picture[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]).save(out, "PNG")
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--every", type=float, default=likeness.SAMPLE_EVERY_S,
                        help="seconds of clip per sampled frame")
    parser.add_argument("--prompt", default="alice waves at the camera in a park")
    args = parser.parse_args()
    likeness.SAMPLE_EVERY_S = args.every
    faces.load()
    model = WorldSim()
    model.warm_up()
    request = ModelRequest(prompt=args.prompt, seconds=10, width=720, height=1280, seed=7, quality="standard",
                           watermark="@bob", cameos=[Cameo(name="alice", face_pngs=[face_crop()])])
    guard = LikenessGuard(None)  # faces only: whose they are is one RPC to identity
    generate, generate_cpu, scan, scan_cpu, decode, found = [], [], [], [], [], None
    for _ in range(args.runs):
        mp4, wall, cpu = _measured(lambda: model.generate(request, lambda *_: None, lambda: False).mp4)
        generate.append(wall)
        generate_cpu.append(cpu)
        frames, wall, _ = _measured(lambda: keyframes(mp4, 1000))
        decode.append(wall)
        found, wall, cpu = _measured(lambda: asyncio.run(guard.check_output(mp4, [], frames)))
        scan.append(wall)
        scan_cpu.append(cpu)
    g, gc, s, sc = (statistics.median(v) for v in (generate, generate_cpu, scan, scan_cpu))
    d = statistics.median(decode)
    print(f"clip: 10 s 720x1280, prompt {args.prompt!r}; {found.frames} frames sampled (one per {args.every:g} s), "
          f"{found.faces} faces found")
    print(f"generation (worldsim, median of {len(generate)}): {g:.2f} s wall, {gc:.2f} s CPU")
    print(f"output scan (median of {len(scan)}): {s * 1000:.0f} ms wall, {sc * 1000:.0f} ms CPU "
          f"(+ {d * 1000:.0f} ms to decode the keyframes when the caller has only the MP4)")
    print(f"scan / generation: {100 * s / g:.1f}% wall, {100 * sc / g:.1f}% of generation wall in CPU, "
          f"{100 * sc / gc:.1f}% of generation CPU (target <= 5%)")
    return 0


def _measured(fn):
    """fn's result, wall seconds and CPU seconds of this process (every thread)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - started, time.process_time() - cpu


if __name__ == "__main__":
    sys.exit(main())
