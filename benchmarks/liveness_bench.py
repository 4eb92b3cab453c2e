"""Benchmark: verifying a 5 s 720p liveness clip (target: median <= 3 s).

Run: .venv/bin/python benchmarks/liveness_bench.py [--runs 7]
The clip (the astronaut portrait turned in 3D from its landmarks, left then right,
lips moving with espeak-ng reading the digits) is made once; each run verifies it
from the encoded bytes, as a server would. CPU seconds per verification are
printed beside the wall time (decoding uses several threads).
"""

import argparse
import importlib.util
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.identity import liveness as lv  # noqa: E402

_spec = importlib.util.spec_from_file_location("identity_liveness_fixtures", ROOT / "tests/identity/fixtures.py")
fx = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()

    now = datetime.now(UTC)
    challenge = lv.Challenge("40712", ["left", "right"], "0" * 32, now + timedelta(hours=1))
    clip = fx.make_clip(
        challenge.digits, fx.turns_for(challenge.head_turns, 5.0), width=1280, height=720, fps=args.fps, duration_s=5.0
    )
    print(f"clip: 1280x720, {args.fps} fps, 5.0 s, H.264+AAC MP4, {len(clip) / 1e6:.2f} MB")

    start = time.perf_counter()
    lv.verify(clip, challenge, now)  # first call also loads the speech model and cascades
    print(f"first call (cold, loads models): {time.perf_counter() - start:.3f}s")
    times, cpu = [], []
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = lv.verify(clip, challenge, now)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert result.passed, result.failures
    print(
        f"verify runs={args.runs} median={statistics.median(times):.3f}s "
        f"min={min(times):.3f}s max={max(times):.3f}s (target <= 3 s); "
        f"CPU median={statistics.median(cpu):.3f}s"
    )


if __name__ == "__main__":
    main()
