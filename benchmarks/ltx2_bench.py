"""Wrapper overhead of the ltx2 Triton model vs calling the diffusers pipeline directly.

Same tiny random store, same process, same run, interleaved rounds, medians:

  direct   the LTX2Pipeline call with exactly the arguments the wrapper uses, then the
           minimum a direct caller needs for the same deliverable: frames resized to
           the asked size, audio at 48 kHz stereo, one H.264+AAC MP4 (kinora.media.encode)
  served   the same clip through Triton (PyTriton) and kinora.models.client, as the
           generator worker calls it: JSON request, progress stream, watermark,
           thumbnail, report

Target: served <= direct * 1.05 + 0.1 s.

    .venv/bin/python benchmarks/ltx2_bench.py [--rounds 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _make_store(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_tiny_ltx2_store", ROOT / "scripts" / "make_tiny_ltx2_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_store(folder / "store")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()

    import torch

    from kinora.media.encode import encode_mp4
    from kinora.models import client
    from kinora.models.contract import ModelRequest
    from kinora.models.ltx2 import _to_48k_stereo, _to_frames, load_from_env
    from kinora.models.serve import ModelServer
    from kinora.stack.tansu import free_port

    with tempfile.TemporaryDirectory(prefix="ltx2-bench-") as tmp:
        store = _make_store(Path(tmp))
        model = load_from_env({"KINORA_MODEL_STORE": str(store), "KINORA_LTX2_DEVICE": args.device})
        request = ModelRequest(prompt="a robot dancing in the rain", seconds=args.seconds, seed=5, watermark="@kinora")
        plan = model.plan(request)
        pipe = model.t2v

        def direct() -> int:
            video, audio = pipe(
                prompt=request.prompt,
                width=plan.gen_width,
                height=plan.gen_height,
                num_frames=plan.num_frames,
                frame_rate=float(request.fps),
                num_inference_steps=plan.steps,
                sigmas=plan.sigmas,
                generator=torch.Generator(args.device).manual_seed(request.seed),
                max_sequence_length=model.manifest.max_sequence_length,
                output_type="np",
                return_dict=False,
                **model._guidance(),
            )
            frames = _to_frames(video[0], plan.frames, request.width, request.height, "", request.fps)
            pcm = _to_48k_stereo(
                audio[0].float().cpu().numpy(), int(pipe.vocoder.config.output_sampling_rate), request.seconds
            )
            return len(encode_mp4(frames, request.width, request.height, request.fps, pcm))

        ports = free_port(), free_port(), free_port()
        server = ModelServer({"ltx2": model}, *ports, log_file=f"/tmp/kinora-triton-ltx2-bench-{ports[0]}.log")
        server.start()
        url = f"127.0.0.1:{ports[0]}"

        def served() -> int:
            return len(client.generate(url, "ltx2", request, timeout_s=600).mp4)

        try:
            served()  # warm-up: first Triton call, first-touch allocations
            direct()
            times: dict[str, list[float]] = {"direct": [], "served": []}
            for _ in range(args.rounds):
                for name, fn in (("direct", direct), ("served", served)):
                    started = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - started)
        finally:
            server.stop()

    d, s = statistics.median(times["direct"]), statistics.median(times["served"])
    limit = d * 1.05 + 0.1
    print(
        f"device={args.device} clip={request.width}x{request.height} {request.seconds}s generated at "
        f"{plan.gen_width}x{plan.gen_height}x{plan.num_frames} frames, {plan.steps} steps, rounds={args.rounds}"
    )
    print(f"direct pipeline+encode  median {d:.3f} s  {[round(t, 3) for t in times['direct']]}")
    print(f"served via Triton       median {s:.3f} s  {[round(t, 3) for t in times['served']]}")
    print(
        f"overhead {s - d:+.3f} s ({(s / d - 1) * 100:+.1f}%); "
        f"limit {limit:.3f} s -> {'PASS' if s <= limit else 'FAIL'}"
    )
    return 0 if s <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
