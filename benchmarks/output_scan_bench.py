"""The output scan's cost: the median time to scan a finished 10 s 720x1280
clip (decode its keyframes, find and embed every face, small ones included)
against the median time worldsim takes to generate that clip, on this CPU.
Target: the scan adds <= 5%. The clip shows a cameo whose face is the
astronaut portrait (as worldsim draws a verified face crop), so the scan has a
face to embed. The MatchFaces call to identity (one per clip) is not included.

    .venv/bin/python benchmarks/output_scan_bench.py [--runs 3] [--prompt "..."]
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompt", default="alice waves at the camera in a park")
    args = parser.parse_args()
    faces.load()
    model = WorldSim()
    model.warm_up()
    request = ModelRequest(prompt=args.prompt, seconds=10, width=720, height=1280, seed=7, quality="standard",
                           watermark="@bob", cameos=[Cameo(name="alice", face_pngs=[face_crop()])])
    generate, scan, mp4 = [], [], b""
    for _ in range(args.runs):
        started = time.perf_counter()
        mp4 = model.generate(request, lambda *_: None, lambda: False).mp4
        generate.append(time.perf_counter() - started)
    guard = LikenessGuard(None)  # faces only: whose they are is one RPC to identity
    found = None
    for _ in range(max(5, args.runs)):
        started = time.perf_counter()
        found = asyncio.run(guard.check_output(mp4, []))
        scan.append(time.perf_counter() - started)
    decode = statistics.median(_timed(lambda: keyframes(mp4, 12)) for _ in range(5))
    g, s = statistics.median(generate), statistics.median(scan)
    print(f"clip: 10 s 720x1280, prompt {args.prompt!r}; {found.frames} frames sampled, {found.faces} faces found")
    print(f"generation (worldsim, median of {len(generate)}): {g:.2f} s")
    print(f"output scan (median of {len(scan)}): {s * 1000:.0f} ms (keyframe decode {decode * 1000:.0f} ms, "
          f"detect+embed {(s - decode) * 1000 / max(found.frames, 1):.0f} ms a frame)")
    print(f"scan / generation: {100 * s / g:.1f}% (target <= 5%)")
    return 0


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
