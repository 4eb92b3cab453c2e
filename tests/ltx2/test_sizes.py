"""Clips are generated on the VAE's 32-px grid at or above the asked size and centre-cropped:
never stretched, and an image-to-video clip starts on its input image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kinora.models.contract import PRO_ONLY_SIZES, STANDARD_SIZES, ModelRequest
from kinora.models.ltx2_frames import _cover, _start_frame, _to_frames


@pytest.mark.parametrize("width,height", STANDARD_SIZES + PRO_ONLY_SIZES)
def test_full_size_plans_cover_the_asked_size_on_the_grid(ltx2_model, width, height):
    plan = ltx2_model.plan(
        ModelRequest(prompt="a cat", seconds=4, width=width, height=height, quality="pro"), resolution_scale=1.0
    )
    assert plan.gen_width % 32 == 0 and plan.gen_height % 32 == 0
    assert 0 <= plan.gen_width - width < 32 and 0 <= plan.gen_height - height < 32
    assert (plan.crop_width, plan.crop_height) == (width, height)


def test_frames_are_centre_cropped_not_stretched(ltx2_model):
    plan = ltx2_model.plan(ModelRequest(prompt="a cat", seconds=4), resolution_scale=1.0)
    assert (plan.gen_width, plan.gen_height) == (736, 1280)  # 720 was rounded down to 704 and stretched
    rng = np.random.default_rng(0)
    video = rng.random((2, plan.gen_height, plan.gen_width, 3), dtype=np.float32)
    frames = _to_frames(video, 2, 720, 1280, "", 24, crop=(plan.crop_width, plan.crop_height))
    expected = (video[0, :, 8:728] * 255.0 + 0.5).astype(np.uint8)
    assert frames[0].shape == (1280, 720, 3) and np.array_equal(frames[0], expected)


def test_the_first_frame_is_the_start_image(ltx2_model):
    plan = ltx2_model.plan(ModelRequest(prompt="a cat", seconds=4), resolution_scale=1.0)
    yy, xx = np.mgrid[0:600, 0:400]
    image = Image.fromarray(np.stack([yy % 256, xx % 256, (xx + yy) % 256], -1).astype(np.uint8))
    start = np.asarray(_start_frame(image, plan))
    assert start.shape == (1280, 736, 3)
    # What the model is told the first frame is, cropped as the clip is: the image covered to 720x1280.
    video = start[None].astype(np.float32) / 255.0
    first = _to_frames(video, 1, 720, 1280, "", 24, crop=(plan.crop_width, plan.crop_height))[0]
    assert np.array_equal(first, np.asarray(_cover(image, 720, 1280)))
