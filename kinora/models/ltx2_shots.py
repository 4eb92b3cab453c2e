"""ltx2_shots: the pieces of a clip made in several LTX-2 runs (kinora.models.ltx2): a
storyboard's shots, or an extension that continues a source clip.

Each run after the first is conditioned on the last `context` frames of what came
before (the previous shot, or the source clip): those frames are put at the start of the
run (LTX2ConditionPipeline, latent index 0, strength 1), where the model keeps them as
they are and continues from them; they are dropped from the output, so the run's first
kept frame follows the context's last one. Audio is generated per run; the runs' sound
is joined with a short crossfade, using the audio a run made under its context frames
(the sound just before its first kept frame), so there is no click at a join."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from kinora.media.encode import AUDIO_RATE
from kinora.models.ltx2_frames import Plan, _start_frame

# LTX-2 has no camera-control input: a shot's camera hint is said in words in its prompt.
CAMERA_WORDS = {
    "static": "The camera stays still.",
    "pan_left": "The camera pans left.",
    "pan_right": "The camera pans right.",
    "push_in": "The camera slowly pushes in.",
    "pull_out": "The camera slowly pulls back.",
    "tilt_up": "The camera tilts up.",
    "tilt_down": "The camera tilts down.",
}

CROSSFADE_SAMPLES = 480  # 10 ms at 48 kHz: the sound of two runs is crossfaded over this at each join


@dataclass
class Piece:
    """One run's contribution to the clip: frames (F, H, W, 3) uint8 at generation size
    (context frames already dropped) and its 48 kHz stereo sound, whose sample `lead`
    is the piece's first kept frame (samples before it were made under the context)."""

    frames: np.ndarray
    pcm: np.ndarray
    lead: int


def shot_prompt(prompt: str, camera: str, cameo_names: list[str]) -> str:
    """A shot's prompt: its text, the camera hint in words, the cameos' names."""
    text = prompt.strip()
    if camera:
        text = f"{text} {CAMERA_WORDS[camera]}"
    if cameo_names:
        text = f"{text} Featuring {' and '.join(cameo_names)}."
    return text


def context_count(temporal: int) -> int:
    """How many frames a continuation is conditioned on: one VAE latent frame group past
    the first (the causal VAE encodes 1 frame, then `temporal` frames per latent frame),
    i.e. 2 latent frames; 9 frames (0.375 s at 24 fps) for LTX-2's 8x temporal VAE."""
    return temporal + 1


def to_uint8(video: np.ndarray) -> np.ndarray:
    """Pipeline frames (floats 0..1) -> uint8, rounded as the clip's frames are."""
    return (np.clip(video, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def fit_frames(frames: list[np.ndarray], plan: Plan) -> np.ndarray:
    """Frames of any size (a source clip's) -> (F, gen_height, gen_width, 3) uint8, each
    covered to the clip's frame and edge-padded to the generation grid, as a start image is."""
    out = np.empty((len(frames), plan.gen_height, plan.gen_width, 3), np.uint8)
    for index, frame in enumerate(frames):
        if frame.shape[:2] == (plan.gen_height, plan.gen_width):
            out[index] = frame
        else:
            out[index] = np.asarray(_start_frame(Image.fromarray(frame), plan))
    return out


def lead_samples(context: int, fps: int) -> int:
    """48 kHz samples a run's sound spends under its `context` frames."""
    return round(context * AUDIO_RATE / fps)


def join_audio(pieces: list[Piece], fps: int, total: int) -> np.ndarray:
    """One (2, total) track from the pieces' sound, each placed at its first kept frame.
    At a join the previous piece's sound is crossfaded into the next one's lead-in over
    CROSSFADE_SAMPLES before the cut (linear, equal gain); a piece without enough
    lead-in (a shot that starts on its own image) fades the previous sound out before
    the cut and its own in after it. Either way no sample jumps at a join."""
    fade = CROSSFADE_SAMPLES
    out = np.zeros((2, total), np.float32)
    start = 0
    starts = []
    for piece in pieces:
        length = min(round(len(piece.frames) * AUDIO_RATE / fps), total - start)
        body = piece.pcm[:, piece.lead : piece.lead + length]
        out[:, start : start + body.shape[1]] = body
        starts.append(start)
        start += length
    ramp = ((np.arange(fade, dtype=np.float32) + 0.5) / fade)[None]
    for piece, cut in zip(pieces[1:], starts[1:]):
        if cut < fade:
            continue
        before = out[:, cut - fade : cut]
        if piece.lead >= fade and piece.pcm.shape[1] >= piece.lead:
            lead_in = piece.pcm[:, piece.lead - fade : piece.lead]
            out[:, cut - fade : cut] = before * (1.0 - ramp) + lead_in * ramp
        else:
            out[:, cut - fade : cut] = before * (1.0 - ramp)
            after = out[:, cut : cut + fade]
            out[:, cut : cut + after.shape[1]] = after * ramp[:, : after.shape[1]]
    return out
