"""ltx2_conditioned: the clips Ltx2Model (kinora.models.ltx2) makes in several runs or from a
source clip: a storyboard, shot by shot (kinora.models.ltx2_shots), and an extension or an edit of
a source clip (kinora.models.ltx2_source)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from kinora.media.encode import AUDIO_RATE
from kinora.models import ltx2_source
from kinora.models.contract import ModelCancelled, ModelRequest, ModelResult
from kinora.models.ltx2_frames import _decode_image, _resample_48k_stereo
from kinora.models.ltx2_schedule import edit_sigmas
from kinora.models.ltx2_shots import Piece, context_count, fit_frames, join_audio, lead_samples, shot_prompt, to_uint8


class ConditionedClipsMixin:
    """Ltx2Model's storyboards, extensions and edits; planning, the pipeline run and the clip's
    finish and report are Ltx2Model's."""

    # ------------------------------------------------------------------ storyboard
    def _storyboard(self, request: ModelRequest, progress, cancelled) -> ModelResult:
        """Shot by shot: shot 1 from its prompt (and its image, or the first cameo's face);
        every later shot from its own prompt, conditioned on the previous shot's last
        `context` frames (or, when it has its own image, starting on that image: a cut to
        a new picture). The frames join exactly at the shot boundaries; the sound is
        crossfaded over 10 ms at each."""
        context = context_count(self.t2v.vae_temporal_compression_ratio)
        names = [c.name for c in request.cameos]
        # Every image is decoded and every shot planned before anything runs: a bad
        # request fails at once, with nothing half made.
        images = [
            None if shot.image is None else _decode_image(shot.image, f"shot {number}'s image")
            for number, shot in enumerate(request.shots, 1)
        ]
        first, conditioning = self._start_image(dataclasses.replace(request, image=None, shots=[]))
        if images[0] is not None:
            first = images[0]
            conditioning["start_image"] = "shot 1 image"
            for entry in conditioning["cameos"]:
                if entry["face_used"]:
                    entry.update(face_used=False, reason="shot 1 starts on its own image")
        images[0] = first
        plans = [
            self.plan(
                request,
                frames=shot.seconds * request.fps,
                context=0 if index == 0 or images[index] is not None else context,
            )
            for index, shot in enumerate(request.shots)
        ]
        work = [plan.num_frames * plan.steps for plan in plans]
        pieces: list[Piece] = []
        shots_report = []
        with self._lock:
            if cancelled():
                raise ModelCancelled()
            progress(1.0, "prepare")
            started = time.monotonic()
            rate = 0
            for index, (shot, plan, image) in enumerate(zip(request.shots, plans, images)):
                if cancelled():
                    raise ModelCancelled()
                span = (2.0 + 88.0 * sum(work[:index]) / sum(work), 2.0 + 88.0 * sum(work[: index + 1]) / sum(work))
                frames_in = pieces[-1].frames[-plan.context :] if plan.context else None
                seed = (request.seed + index) % 2**63
                prompt = shot_prompt(shot.prompt, shot.camera, names)
                video, audio, rate = self._run_pipeline(
                    request,
                    plan,
                    image,
                    progress,
                    cancelled,
                    prompt=prompt,
                    context=frames_in,
                    span=span,
                    final=index == len(plans) - 1,
                    seed=seed,
                )
                pieces.append(
                    Piece(
                        to_uint8(video[plan.context : plan.context + plan.frames]),
                        _resample_48k_stereo(audio, rate),
                        lead_samples(plan.context, request.fps),
                    )
                )
                del video, audio
                start = sum(s.seconds for s in request.shots[:index])
                shots_report.append(
                    {
                        "shot": index + 1,
                        "start_s": start,
                        "end_s": start + shot.seconds,
                        "prompt": prompt,
                        "camera": shot.camera or None,
                        "seed": seed,
                        "steps": plan.steps,
                        "sigmas": plan.sigmas,
                        "generated_frames": plan.num_frames,
                        "pipeline": "condition"
                        if plan.context
                        else ("image_to_video" if image is not None else "text_to_video"),
                        "conditioning": (
                            f"previous shot's last {plan.context} frames"
                            if plan.context
                            else "shot's own image"
                            if index and image is not None
                            else conditioning["start_image"] or "prompt only"
                        ),
                    }
                )
            pipeline_s = time.monotonic() - started
        video = np.concatenate([piece.frames for piece in pieces])
        pcm = join_audio(pieces, request.fps, request.seconds * AUDIO_RATE)
        conditioning["camera"] = "said in words in each shot's prompt (LTX-2 has no camera control input)"
        report = self._report(
            request,
            plans[0],
            "storyboard",
            conditioning,
            {
                "source_rate": rate,
                "output_rate": AUDIO_RATE,
                "channels": 2,
                "joins": f"{len(pieces) - 1} crossfaded over 10 ms",
            },
        )
        report["shots"] = shots_report
        report["generated_frames"] = sum(plan.num_frames for plan in plans)
        return self._finish(request, plans[0], video, pcm, progress, cancelled, pipeline_s, report)

    # ------------------------------------------------------------------ extend / edit
    def _from_source(self, request: ModelRequest, progress, cancelled) -> ModelResult:
        source = request.source
        assert source is not None
        cameos = [
            {
                "name": c.name,
                "face_used": False,
                "voice_used": False,
                "reason": f"an {source.kind} starts from its source clip; the name is added to the prompt",
            }
            for c in request.cameos
        ]
        if source.kind == "extend":
            context = context_count(self.t2v.vae_temporal_compression_ratio)
            plan = self.plan(request, context=context)
            frames_in = fit_frames(ltx2_source.last_frames(source.video, context), plan)
            conditioning = {
                "prompt": True,
                "start_image": None,
                "cameos": cameos,
                "source": f"the source clip's last {context} frames (LTX2ConditionPipeline, index 0)",
            }
            prompt, pipeline = self._prompt(request), "extend"
            source_pcm = None
        else:
            plan = self.plan(request)
            sigmas = edit_sigmas(
                self.schedule_config,
                self._tokens(plan.gen_width, plan.gen_height, plan.num_frames),
                self.steps,
                self.distilled,
                self.edit_strength,
            )
            plan = dataclasses.replace(plan, steps=len(sigmas), sigmas=sigmas)
            frames_in = fit_frames(
                ltx2_source.all_frames(source.video, plan.frames, plan.num_frames, request.seconds), plan
            )
            source_pcm = ltx2_source.audio_48k_stereo(source.video, request.seconds)
            conditioning = {
                "prompt": True,
                "start_image": None,
                "cameos": cameos,
                "source": f"every frame of the source clip, noised to {self.edit_strength} (video-to-video)",
                "strength": self.edit_strength,
            }
            names = [c.name for c in request.cameos]
            prompt = shot_prompt(source.instruction, "", names)
            pipeline = "edit"
        with self._lock:
            if cancelled():
                raise ModelCancelled()
            progress(1.0, "prepare")
            started = time.monotonic()
            if source.kind == "extend":
                video, audio, rate = self._run_pipeline(
                    request, plan, None, progress, cancelled, prompt=prompt, context=frames_in
                )
            else:
                video, audio, rate = self._run_pipeline(
                    request, plan, None, progress, cancelled, prompt=prompt, source=frames_in
                )
            pipeline_s = time.monotonic() - started
        del frames_in
        video = to_uint8(video[plan.context : plan.context + plan.frames])
        if source.kind == "extend":
            pcm = _resample_48k_stereo(audio, rate)[:, lead_samples(plan.context, request.fps) :]
            want = request.seconds * AUDIO_RATE
            pcm = np.ascontiguousarray(np.pad(pcm, ((0, 0), (0, max(0, want - pcm.shape[1]))))[:, :want])
            audio_report = {"source_rate": rate, "output_rate": AUDIO_RATE, "channels": 2}
        else:
            want = request.seconds * AUDIO_RATE
            pcm = source_pcm if source_pcm is not None else np.zeros((2, want), np.float32)
            audio_report = {
                "source_rate": None,
                "output_rate": AUDIO_RATE,
                "channels": 2,
                "kept": "the source clip's sound"
                if source_pcm is not None
                else "silence (the source clip has no sound)",
            }
        report = self._report(request, plan, pipeline, conditioning, audio_report)
        report["prompt"] = prompt
        return self._finish(request, plan, video, pcm, progress, cancelled, pipeline_s, report)
