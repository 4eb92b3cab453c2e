"""WorldSim: the VideoModel the model server runs (plan -> simulate -> render + audio -> encode)."""

from __future__ import annotations

import copy
import io
import itertools
import queue
import threading
import time

import numpy as np
import torch
from PIL import Image

from kinora.media.encode import encode_mp4, thumbnail_jpeg
from kinora.media.invisible_mark import Embedder
from kinora.models.contract import ModelCancelled, ModelInputError, ModelRequest, ModelResult
from worldsim.audio import storyboard_track, synthesize
from worldsim.planner import plan_scene, remix_plan
from worldsim.render import Painter
from worldsim.scene import STATE_VERSION, build_scene, scene_state
from worldsim.scene_model import SPEECH_RUN_ON_S, Scene
from worldsim.story import REFRAME, SHOT_CAMERA, continue_plan, edit_plan, storyboard_plan

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
        plans, images = _plans(request)
        timings["plan"] = time.perf_counter() - t
        check()

        progress(5.0, "simulate")
        t = time.perf_counter()
        scenes = build_chain(plans, request.fps)
        timings["simulate"] = time.perf_counter() - t
        check()

        progress(8.0, "audio")
        t = time.perf_counter()
        if len(scenes) == 1:
            audio = synthesize(scenes[0])
        else:  # one track: the ambience crossfades at each cut, sounds ring on over it (no click)
            audio = storyboard_track(scenes, CROSSFADE_S)
        timings["audio"] = time.perf_counter() - t
        check()

        progress(10.0, "render")
        t = time.perf_counter()
        faces = {c.name: c.face_pngs for c in request.cameos}
        starts = list(itertools.accumulate((s.frames for s in scenes), initial=0))
        painters: dict[int, Painter] = {}

        def painter_for(index: int) -> Painter:
            if index not in painters:
                painters.clear()  # one shot's plates in memory at a time
                painters[index] = Painter(
                    scenes[index], request.width, request.height, images[index], request.watermark, faces
                )
            return painters[index]

        try:
            painter_for(0)
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
        total = starts[-1]

        def produce() -> None:
            # Render in its own thread: torch releases the GIL, so x264 encodes
            # frame k while frame k+1 is drawn.
            try:
                for index, scene in enumerate(scenes):
                    for k in range(scene.frames):
                        g = starts[index] + k
                        if cancelled():
                            frames_q.put(ModelCancelled())
                            return
                        t0 = time.perf_counter()
                        frame = painter_for(index).frame(k)  # a new shot: a hard cut on its first frame
                        render_busy[0] += time.perf_counter() - t0
                        if g == total // 3:  # a moment into the action makes a better thumbnail
                            first.append(frame)
                        frames_q.put(frame)
                        if g % 12 == 0:
                            progress(10.0 + 85.0 * g / total, "render")
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
            mp4 = encode_mp4(
                frames(),
                request.width,
                request.height,
                request.fps,
                audio,
                preset=preset,
                luma_mark=None if mark is None else luma_mark,
            )
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
            "plan": _report_plan(request, plans),
            "outcome": _merged(scenes, lambda s: [s.outcome])[-1],
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
            "contacts": _merged(scenes, lambda s: s.sim.contacts, "time"),
            "footsteps": _merged(scenes, lambda s: s.footsteps, "time"),
            "syllables": _merged(scenes, lambda s: s.syllables, "start"),
            "tracks": _tracks(scenes[0]) if len(scenes) == 1 else _joined_tracks(scenes),
            "state": scene_state(scenes[-1]),
            "video": {"width": request.width, "height": request.height, "fps": request.fps, "frames": total},
            "audio": {"rate": 48_000, "channels": 2},
        }
        if request.shots or plans[0].get("shot") is not None:
            report["shots"] = _shot_list(scenes, starts, request.fps)
        if request.source is not None:
            report["source"] = {"kind": request.source.kind, "instruction": request.source.instruction or None}
        progress(100.0, "done")
        return ModelResult(mp4=mp4, thumbnail_jpeg=thumb, report=report)


CROSSFADE_S = 0.02  # audio crossfade across a storyboard's cuts


def _cameos(request: ModelRequest) -> list[dict]:
    return [
        {
            "name": c.name,
            "voice": None if c.voice is None else {"pitch_hz": c.voice.pitch_hz, "envelope": c.voice.envelope},
        }
        for c in request.cameos
    ]


def _plans(request: ModelRequest) -> tuple[list[dict], list[bytes | None]]:
    """The plan of each part of the clip (one, or one per shot) and each part's image."""
    w, h, seed = request.width, request.height, request.seed
    if request.shots:
        plans: list[dict] = []
        for index, shot in enumerate(request.shots):
            _check_image(shot.image, f"shot {index + 1}'s image")
            if index == 0:
                plan = plan_scene(shot.prompt, seed, shot.seconds, w, h, _cameos(request), shot.image is not None)
            else:
                plan = continue_plan(plans[-1], shot.prompt, shot.seconds, w, h, index)
            if shot.camera:
                plan["camera"] = SHOT_CAMERA[shot.camera]
            plan["image_plate"] = shot.image is not None
            plan["shot"] = {"index": index, "camera": shot.camera}
            plans.append(plan)
        return plans, [shot.image for shot in request.shots]
    source = request.source
    if source is not None and source.kind == "extend":
        base, state = _source_world(source.plan, source.state, request.fps)
        salt = int(state.get("rng_salt", 0)) + 1 + 1009 * seed
        plan = continue_plan(base, request.prompt, request.seconds, w, h, salt)
        plan["resume"] = {"mode": "continue", "state": state}
        plan["extension"] = {"from_time": state["time"], "from_frame": state["frame"]}
        return [plan], [None]
    if source is not None and source.kind == "edit":
        if source.plan is None:
            raise ModelInputError("worldsim edits a clip through its plan (report['plan']); this source has none")
        edited = edit_plan(source.plan, source.instruction)
        plans = edited["shots"] if edited.get("storyboard") else [edited]
        _keep_length(plans, request.seconds, "an edit")
        record = edited["edit"]
        for plan in plans:
            plan["size"] = [w, h]
            plan.pop("edit", None)
        plans[0]["edit"] = record
        return plans, [None] * len(plans)
    if request.remix_plan is not None:
        if request.remix_plan.get("storyboard") and request.remix_plan.get("shots"):
            plans = [
                remix_plan(shot, request.prompt, shot["seed"], shot["seconds"], w, h, _cameos(request))
                for shot in request.remix_plan["shots"]
            ]
            _keep_length(plans, request.seconds, "a remix of a storyboard")
            return plans, [None] * len(plans)
        plan = remix_plan(request.remix_plan, request.prompt, seed, request.seconds, w, h, _cameos(request))
    else:
        plan = plan_scene(request.prompt, seed, request.seconds, w, h, _cameos(request), request.image is not None)
    plan["image_plate"] = request.image is not None
    return [plan], [request.image]


def _keep_length(plans: list[dict], seconds: int, what: str) -> None:
    length = sum(int(p["seconds"]) for p in plans)
    if length != seconds:
        raise ModelInputError(f"{what} keeps its source's length ({length} s); the request asked for {seconds} s")


def _check_image(image: bytes | None, what: str) -> None:
    if image is None:
        return
    try:
        Image.open(io.BytesIO(image)).load()
    except Exception as exc:  # PIL raises several kinds for a bad file
        raise ModelInputError(f"{what} could not be read as a picture: {exc}") from exc


def _source_world(plan: dict | None, state: dict | None, fps: int) -> tuple[dict, dict]:
    """The plan an extension continues (a storyboard's last shot) and the state it resumes."""
    if plan is None:
        raise ModelInputError(
            "worldsim extends a clip through its plan and state (report['plan'], report['state']); "
            "this source has no plan"
        )
    if not isinstance(plan.get("entities"), list) or "setting" not in plan:
        raise ModelInputError("the source plan is not a worldsim plan (it needs 'setting' and 'entities')")
    last = plan["shots"][-1] if plan.get("storyboard") and plan.get("shots") else plan
    if state is None:  # worldsim is deterministic: the source's world can be simulated again
        state = scene_state(build_chain([copy.deepcopy(p) for p in (plan.get("shots") or [plan])], fps)[-1])
    missing = [
        key for key in ("version", "setting", "time", "frame", "camera", "characters", "bodies") if key not in state
    ]
    if missing:
        raise ModelInputError(f"the source state is not a worldsim state (missing {', '.join(missing)})")
    if state["version"] != STATE_VERSION:
        raise ModelInputError(f"the source state has version {state['version']}; worldsim reads {STATE_VERSION}")
    return last, state


def build_chain(plans: list[dict], fps: int) -> list[Scene]:
    """Simulate the parts of one clip in order: each later shot resumes the world where the shot
    before it stopped, filmed with the first shot's lens and, in the same place, from a new angle."""
    scenes: list[Scene] = []
    for index, plan in enumerate(plans):
        if index > 0:
            before = scenes[-1]
            if plan.get("extension") is not None:  # an extension's part: the world goes on, no cut
                plan["resume"] = {"mode": "continue", "state": scene_state(before)}
                plan["reframe"] = 0.0
            else:
                plan["resume"] = {"mode": "cut", "state": scene_state(before)}
                same_place = plan["setting"] == before.plan["setting"]
                plan["reframe"] = (
                    0.0
                    if not same_place or plan["camera"] != "static"
                    else -REFRAME
                    if before.plan.get("reframe", 0.0) > 0
                    else REFRAME
                )
            plan["view_h"] = round(scenes[0].view_h, 5)
        if index < len(plans) - 1:  # a line may run on over the cut into the next shot
            plan["run_on"] = True
            plan["run_on_s"] = SPEECH_RUN_ON_S
        else:
            plan.pop("run_on", None)
            plan.pop("run_on_s", None)
        scenes.append(build_scene(plan, fps))
        if index > 0:
            plan.pop("resume")  # made again from the shot before whenever the storyboard is rendered
    return scenes


def _report_plan(request: ModelRequest, plans: list[dict]) -> dict:
    source = request.source
    if source is not None and source.kind == "extend" and source.plan is not None:
        # The generator joins source + continuation into one clip: its plan is the whole clip's
        # (the source's parts, then this one), so an edit or a remix of the extended clip remakes
        # all of it and a further extension continues from this part.
        parts = [copy.deepcopy(p) for p in (source.plan.get("shots") or [source.plan])] + plans
        for part in parts[1:]:
            part.pop("resume", None)  # made again from the part before whenever the clip is rendered
        title = " | ".join(t for t in (source.plan.get("prompt", ""), request.prompt) if t)
        return storyboard_plan(parts, title, int(source.plan.get("seed", request.seed)), request.width, request.height)
    if len(plans) == 1 and plans[0].get("shot") is None:
        return plans[0]
    title = request.prompt
    plan = storyboard_plan(plans, title, request.seed, request.width, request.height)
    if "edit" in plans[0]:
        plan["edit"] = plans[0].pop("edit")
    return plan


def _merged(scenes: list[Scene], items, key: str | None = None) -> list:
    """Per-scene events on the clip's own clock."""
    out, offset = [], 0.0
    for scene in scenes:
        for item in items(scene):
            if key is not None and key in item:
                item = {**item, key: round(item[key] + offset, 6)}
            out.append(item)
        offset += scene.plan["seconds"]
    return out


def _shot_list(scenes: list[Scene], starts: list[int], fps: int) -> list[dict]:
    shots = []
    for index, scene in enumerate(scenes):
        plan = scene.plan
        shots.append(
            {
                "index": index,
                "start_s": starts[index] / fps,
                "end_s": starts[index + 1] / fps,
                "start_frame": starts[index],
                "end_frame": starts[index + 1],
                "prompt": plan["prompt"],
                "camera": (plan.get("shot") or {}).get("camera", ""),
                "move": plan["camera"],
                "setting": plan["setting"],
                "time_of_day": plan["time_of_day"],
                "weather": plan["weather"],
                "style": plan["style"],
                "entities": [e["id"] for e in plan["entities"]],
            }
        )
    return shots


def _joined_tracks(scenes: list[Scene]) -> dict:
    """`_tracks` of each shot, per-frame lists joined on the clip's frames (None where an entity is absent)."""
    parts = [_tracks(scene) for scene in scenes]
    counts = [scene.frames for scene in scenes]
    joined: dict = {
        "camera": [row for part in parts for row in part["camera"]],
        "heads": {},
        "bodies": {},
        "ground": parts[-1]["ground"],
        "statics": parts[-1]["statics"],
        "shots": [{"ground": p["ground"], "statics": p["statics"]} for p in parts],
    }
    for group, series in (("heads", ("mouth", "xyr")), ("bodies", ("xy", "v"))):
        ids = list(dict.fromkeys(i for part in parts for i in part[group]))
        for entity_id in ids:
            entry: dict = {}
            for part, count in zip(parts, counts):
                one = part[group].get(entity_id)
                for key, value in (one or {}).items():
                    if key not in series:
                        entry.setdefault(key, value)
                for key in series:
                    entry.setdefault(key, []).extend(one[key] if one else [None] * count)
            joined[group][entity_id] = entry
    return joined


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
        heads[ch.id] = {
            "kind": ch.kind,
            "cameo": ch.cameo,
            "facing": ch.facing,
            "mouth": np.round(ch.mouth, 3).tolist(),
            "xyr": [[round(float(v), 4) for v in _skeleton(ch, k, scene)[3]] for k in range(scene.frames)],
        }
    return {
        "camera": np.round(scene.camera, 5).tolist(),
        "heads": heads,  # (centre x, centre y, view height) per frame
        "bodies": bodies,
        "ground": scene.ground.tolist(),
        "statics": [
            {"kind": s.kind, "name": s.name, "a": list(s.a), "b": list(s.b), "radius": s.radius} for s in scene.statics
        ],
    }
