"""WorldSim: the VideoModel the model server runs (plan -> simulate -> render + audio -> encode)."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import torch

from kinora.media.encode import encode_mp4, thumbnail_jpeg
from kinora.media.invisible_mark import Embedder
from kinora.models.contract import ModelCancelled, ModelInputError, ModelRequest, ModelResult
from worldsim.audio import synthesize
from worldsim.planner import plan_scene, remix_plan
from worldsim.render import Painter
from worldsim.scene import build_scene

_DONE = object()


class WorldSim:
    name = "worldsim"

    def __init__(self, threads: int = 1):
        # One intra-op thread: the work per op is small (sprite boxes, one frame), and
        # on a shared few-core machine extra torch threads only fight each other and
        # x264 (measured ~7 ms vs ~95 ms per 720x1280 frame under load).
        torch.set_num_threads(threads)

    def warm_up(self) -> None:
        """Load the embedding model and concept vectors before the first request."""
        plan_scene("a person walks in the park", 0, 4, 720, 1280)

    def generate(self, request: ModelRequest, progress, cancelled) -> ModelResult:
        request.validate()
        timings: dict[str, float] = {}
        started = time.perf_counter()

        def check() -> None:
            if cancelled():
                raise ModelCancelled()

        progress(1.0, "plan")
        t = time.perf_counter()
        cameos = [{"name": c.name,
                   "voice": None if c.voice is None else {"pitch_hz": c.voice.pitch_hz, "envelope": c.voice.envelope}}
                  for c in request.cameos]
        if request.remix_plan is not None:
            plan = remix_plan(request.remix_plan, request.prompt, request.seed, request.seconds, request.width,
                              request.height, cameos)
        else:
            plan = plan_scene(request.prompt, request.seed, request.seconds, request.width, request.height, cameos,
                              request.image is not None)
        plan["image_plate"] = request.image is not None
        timings["plan"] = time.perf_counter() - t
        check()

        progress(5.0, "simulate")
        t = time.perf_counter()
        scene = build_scene(plan, request.fps)
        timings["simulate"] = time.perf_counter() - t
        check()

        progress(8.0, "audio")
        t = time.perf_counter()
        audio = synthesize(scene)
        timings["audio"] = time.perf_counter() - t
        check()

        progress(10.0, "render")
        t = time.perf_counter()
        try:
            painter = Painter(scene, request.width, request.height, request.image, request.watermark,
                              {c.name: c.face_pngs for c in request.cameos})
        except OSError as exc:
            raise ModelInputError(f"the input image could not be read: {exc}") from exc
        # The invisible mark goes on after the visible one, into the Y plane of the
        # encoder's own yuv420p conversion (measured in benchmarks/watermark_bench.py).
        mark = None if request.watermark_id is None else Embedder(request.watermark_id, request.width, request.height)
        mark_busy = [0.0]

        def luma_mark(plane: np.ndarray) -> None:
            t1 = time.perf_counter()
            mark.apply(plane)
            mark_busy[0] += time.perf_counter() - t1

        render_busy = [time.perf_counter() - t]
        frames_q: queue.Queue = queue.Queue(maxsize=6)
        first: list[np.ndarray] = []  # the thumbnail frame
        total = scene.frames

        def produce() -> None:
            # Render in its own thread: torch releases the GIL, so x264 encodes
            # frame k while frame k+1 is drawn.
            try:
                for k in range(total):
                    if cancelled():
                        frames_q.put(ModelCancelled())
                        return
                    t0 = time.perf_counter()
                    frame = painter.frame(k)
                    render_busy[0] += time.perf_counter() - t0
                    if k == total // 3:  # a moment into the action makes a better thumbnail
                        first.append(frame)
                    frames_q.put(frame)
                    if k % 12 == 0:
                        progress(10.0 + 85.0 * k / total, "render")
                frames_q.put(_DONE)
            except BaseException as exc:  # hand any failure to the encoding side
                frames_q.put(exc)

        def frames():
            while True:
                item = frames_q.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item

        worker = threading.Thread(target=produce, name="worldsim-render", daemon=True)
        worker.start()
        fast = request.quality == "standard" or request.width * request.height > 1_500_000
        preset = "ultrafast" if fast else "superfast"
        try:
            mp4 = encode_mp4(frames(), request.width, request.height, request.fps, audio, preset=preset,
                             luma_mark=None if mark is None else luma_mark)
        finally:
            worker.join()
        wall = time.perf_counter() - t
        timings["render"] = render_busy[0]
        timings["encode"] = max(wall - render_busy[0], 0.0)  # encode time not hidden behind rendering
        timings["render_encode_wall"] = wall
        timings["invisible_mark"] = mark_busy[0]
        progress(97.0, "thumbnail")
        thumb = thumbnail_jpeg(first[0] if len(first) else np.zeros((request.height, request.width, 3), np.uint8))
        timings["total"] = time.perf_counter() - started
        report = {
            "model": self.name,
            "seed": request.seed,
            "plan": plan,
            "outcome": scene.outcome,
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
            "contacts": scene.sim.contacts,
            "footsteps": scene.footsteps,
            "syllables": scene.syllables,
            "tracks": _tracks(scene),
            "video": {"width": request.width, "height": request.height, "fps": request.fps, "frames": scene.frames},
            "audio": {"rate": 48_000, "channels": 2},
        }
        progress(100.0, "done")
        return ModelResult(mp4=mp4, thumbnail_jpeg=thumb, report=report)


def _tracks(scene) -> dict:
    """Per-frame world positions and the camera, so a viewer (or a test) can map pixels to metres."""
    bodies = {}
    for i, spec in enumerate(scene.body_specs):
        bodies[spec["id"]] = {
            "kind": spec["kind"],
            "radius": spec["radius"],
            "material": scene.bodies[i].material,
            "color": spec["color"],
            "xy": np.round(scene.sim.positions[:, i].numpy(), 4).tolist(),
            "v": np.round(scene.sim.velocities[:, i].numpy(), 4).tolist(),
        }
    from worldsim.sprites import _skeleton

    heads = {}
    for ch in scene.characters:
        heads[ch.id] = {"kind": ch.kind, "cameo": ch.cameo, "facing": ch.facing,
                        "mouth": np.round(ch.mouth, 3).tolist(),
                        "xyr": [[round(float(v), 4) for v in _skeleton(ch, k, scene)[3]] for k in range(scene.frames)]}
    return {
        "camera": np.round(scene.camera, 5).tolist(),
        "heads": heads,  # (centre x, centre y, view height) per frame
        "bodies": bodies,
        "ground": scene.ground.tolist(),
        "statics": [{"kind": s.kind, "name": s.name, "a": list(s.a), "b": list(s.b), "radius": s.radius}
                    for s in scene.statics],
    }
