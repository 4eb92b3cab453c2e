"""Takedown requests from anyone (issue 19 part 2): does the perceptual fingerprint find
copies and only copies, what does it cost the worker, and how long from a request to
the clip and its copies being gone, with the operator's approval given?

    .venv/bin/python benchmarks/takedown_request_bench.py --clips 12 --runs 10

(benchmarks/takedown_bench.py is the cameo revoke -> takedown benchmark.)

1. Fingerprint (`--clips` worldsim clips of 4 s through the real model, different prompts):
   - copies: H.264 CRF 28, 50% downscale, 10% crop (off-centre), all three at once; a
     copy must match its own clip (kinora.media.fingerprint.is_copy): found rate, lowest
     match score, frame distances;
   - false matches: every clip (and, for a few, its all-three copy) against every other
     clip: pairs matched, highest score (the margin to MATCH_FRACTION);
   - a single frame (every second decoded frame) against its own clip and the others at
     IMAGE_MAX_DISTANCE: found rate and false rate (the blocklist and frame-input test);
   - cost: the worker's thumbnail pass on a 10 s 720x1280 clip with and without hashing.
2. Latency (`--runs`): the five services in-process with a Kafka-protocol broker, a worker
   and Triton serving worldsim, the gateway over HTTP. Per run: a fresh published clip and
   its remix; the client files a request without an account with a CRF 28, 10%-cropped
   copy (the gateway reads its fingerprint and watermark), the operator approves at once
   (TakedownService as `admin`), and the client polls every 10 ms until both clips' media
   is refused and both posts are hidden. Times from the request's start.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
sys.path.insert(0, str(ROOT / "tests" / "generator"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from kinora.media import fingerprint as fp  # noqa: E402
from kinora.media import thumbs  # noqa: E402
from kinora.media.transcode import reencode  # noqa: E402
from kinora.models.contract import ModelRequest  # noqa: E402

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
]
TRANSFORMS = {
    "h264_crf28": dict(crf=28),
    "downscale_50": dict(crf=23, scale=0.5),
    "crop_10": dict(crf=23, crop=0.1),
    "crf28+crop10+scale50": dict(crf=28, crop=0.1, scale=0.5),
}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fingerprint_figures(clips: int) -> None:
    import av

    from worldsim.model import WorldSim

    model = WorldSim()
    mp4s = []
    for index in range(clips):
        request = ModelRequest(prompt=PROMPTS[index % len(PROMPTS)], seconds=4, seed=100 + index, watermark="@bench")
        mp4s.append(model.generate(request, lambda *_: None, lambda: False).mp4)
    stored = [fp.clip_hashes(m) for m in mp4s]
    print(
        f"fingerprint: {clips} worldsim clips of 4 s, {fp.SAMPLES_PER_SECOND} samples/s, frame distance <= "
        f"{fp.MAX_DISTANCE}, match fraction >= {fp.MATCH_FRACTION}, single image <= {fp.IMAGE_MAX_DISTANCE}"
    )
    copies_all = []
    for name, kw in TRANSFORMS.items():
        scores, dists, found = [], [], 0
        for index, mp4 in enumerate(mp4s):
            probe = fp.probe_video(reencode(mp4, preset="veryfast", **kw))
            if name == "crf28+crop10+scale50":
                copies_all.append(probe)
            match = fp.match_clip(probe, stored[index])
            scores.append(match.score)
            found += fp.is_copy(probe, stored[index])
            per_crop = [fp.distances([f[k] for f in probe], stored[index]).min(axis=1) for k in range(len(probe[0]))]
            dists.append(np.min(per_crop, axis=0))
        d = np.concatenate(dists)
        print(
            f"  copy {name:22s} found {found}/{clips}  lowest score {min(scores):.2f}  frame distance median "
            f"{np.median(d):.0f} p95 {np.percentile(d, 95):.0f} max {d.max()}"
        )
    cross, cross_max, pairs = 0, 0.0, 0
    for i in range(clips):
        probes = [[fp.probe_hashes(f) for f in fp.video_frames(mp4s[i])]] + ([copies_all[i]] if i < 4 else [])
        for j in range(clips):
            if i == j:
                continue
            for probe in probes:
                score = fp.match_clip(probe, stored[j]).score
                cross_max, pairs = max(cross_max, score), pairs + 1
                cross += score >= fp.MATCH_FRACTION
    print(
        f"  false matches between different clips: {cross}/{pairs} pairs, highest score {cross_max:.2f} "
        f"(threshold {fp.MATCH_FRACTION}; margin {fp.MATCH_FRACTION - cross_max:.2f})"
    )
    own, other = [], []
    for i, mp4 in enumerate(mp4s):
        with av.open(io.BytesIO(mp4)) as container:
            frames = [f.to_ndarray(format="gray") for f in container.decode(container.streams.video[0])]
        for frame in frames[::2]:
            h = [fp.centre_hash(frame)]
            own.append(fp.distances(h, stored[i]).min())
            other.append(min(fp.distances(h, stored[j]).min() for j in range(clips) if j != i))
    own_a, other_a = np.array(own), np.array(other)
    print(
        f"  single frame -> its clip: {np.mean(own_a <= fp.IMAGE_MAX_DISTANCE):.1%} of {len(own)} found; "
        f"-> other clips: {np.mean(other_a <= fp.IMAGE_MAX_DISTANCE):.1%} false (closest {other_a.min()} bits)"
    )
    ten = model.generate(
        ModelRequest(prompt=PROMPTS[1], seconds=10, seed=7, watermark="@bench"), lambda *_: None, lambda: False
    ).mp4
    plain, hashed = [], []
    for _ in range(5):
        t = time.perf_counter()
        thumbs.stills(ten)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        thumbs.stills(ten, fp.FrameSampler())
        hashed.append(time.perf_counter() - t)
    print(
        f"  worker pass on a 10 s 720x1280 clip: stills {statistics.median(plain) * 1000:.0f} ms, stills + "
        f"fingerprint {statistics.median(hashed) * 1000:.0f} ms (median of 5; +"
        f"{(statistics.median(hashed) - statistics.median(plain)) * 1000:.0f} ms)",
        flush=True,
    )


async def latency(runs: int, tmp: Path) -> None:
    import grpc
    import httpx
    from gateway_platform import SECRET, auth, running_platform
    from test_cameo_erasure import generator_worker
    from test_takedown_requests import finished, make, publish

    from kinora.generator.v1 import generator_pb2 as pb
    from kinora.generator.v1 import generator_pb2_grpc
    from kinora.runtime.auth import mint_service_token
    from kinora.stack.tansu import TansuBroker, free_port
    from services.gateway import takedowns
    from services.gateway.ratelimit import Limit

    takedowns.FILE_LIMIT = Limit(rate=1000.0, burst=1000)
    broker = TansuBroker(free_port()).start()
    try:
        async with running_platform(tmp, broker.bootstrap, user_burst=1000, key_burst=1000) as platform:
            async with httpx.AsyncClient(base_url=platform.url, timeout=300) as client:
                alice, bob = await platform.signup(client, "bench_alice"), await platform.signup(client, "bench_bob")
                items = []
                async with generator_worker(platform):
                    sources = [
                        await make(client, alice, prompt=PROMPTS[i % len(PROMPTS)], seconds=4) for i in range(runs)
                    ]
                    for gid in sources:
                        await finished(client, alice, gid)
                    posts = [await publish(client, alice, gid) for gid in sources]
                    remixes = [
                        await make(client, bob, prompt="the same scene, a little later", remix_of=gid, seconds=4)
                        for gid in sources
                    ]
                    for gid in remixes:
                        await finished(client, bob, gid)
                    for gid, post, remix in zip(sources, posts, remixes):
                        original = (await client.get(f"/api/v1/generations/{gid}/content", headers=auth(alice))).content
                        items.append(
                            (
                                gid,
                                post,
                                remix,
                                await publish(client, bob, remix),
                                await asyncio.to_thread(reencode, original, crf=28, crop=0.1),
                            )
                        )
                channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.apps['generator'].settings.grpc_port}")
                stub = generator_pb2_grpc.TakedownServiceStub(channel)
                md = [("authorization", f"Bearer {mint_service_token('admin', SECRET)[0]}")]
                totals, filing, approving = [], [], []
                for gid, post, remix, remix_post, copy in items:
                    start = time.perf_counter()
                    filed = await client.post(
                        "/api/v1/takedown-requests",
                        files={"file": ("c.mp4", copy, "video/mp4")},
                        data={
                            "contact": "me@example.com",
                            "kind": "likeness",
                            "statement": "this clip shows me without my consent",
                        },
                    )
                    assert filed.status_code == 202, filed.text
                    filed_at = time.perf_counter()
                    reply = await stub.ApproveTakedownRequest(
                        pb.ApproveTakedownRequestRequest(id=filed.json()["id"]), metadata=md
                    )
                    assert {t.generation_id for t in reply.request.targets} >= {gid, remix}, reply.request.targets
                    approved_at = time.perf_counter()
                    pending = [(alice, gid, post), (bob, remix, remix_post)]
                    while pending:
                        still = []
                        for owner, g, p in pending:
                            media = await client.get(f"/api/v1/generations/{g}/content", headers=auth(owner))
                            shown = await client.get(f"/api/v1/posts/{p}", headers=auth(owner))
                            if media.status_code == 200 or shown.status_code != 404:
                                still.append((owner, g, p))
                        pending = still
                        if pending:
                            assert time.perf_counter() - start < 30, "not removed within 30 s"
                            await asyncio.sleep(0.01)
                    totals.append(time.perf_counter() - start)
                    filing.append(filed_at - start)
                    approving.append(approved_at - filed_at)
                await channel.close()
        print(
            f"latency: request (CRF 28 + 10% crop copy, 4 s) -> clip and remix gone (media refused, posts hidden), "
            f"approval given at once, {runs} runs:"
        )
        print(
            f"  total p50 {statistics.median(totals):.2f} s  p99 {quantile(totals, 0.99):.2f} s  "
            f"max {max(totals):.2f} s"
        )
        print(
            f"  of which filing (upload, fingerprint + watermark read) p50 {statistics.median(filing):.2f} s, "
            f"approval (find + remove) p50 {statistics.median(approving) * 1000:.0f} ms"
        )
    finally:
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-fingerprint", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    if not args.skip_fingerprint:
        fingerprint_figures(args.clips)
    if not args.skip_latency:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(latency(args.runs, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
