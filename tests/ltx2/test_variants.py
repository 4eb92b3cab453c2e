"""Variant presets (ltx-2, ltx-2.3) in the store manifest, guidance as configured reaching
the pipeline (an audio value of 0 stays 0), the reference negative prompt by default."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from kinora.models.contract import ModelRequest
from kinora.models.ltx2_store import check_store, read_manifest


def _write_manifest(folder, **values):
    (folder / "kinora-ltx2.json").write_text(json.dumps({"format": "kinora-ltx2/1", **values}))


@pytest.mark.parametrize("variant,cross,blocks,cfg", [("ltx-2", False, (29,), None), ("ltx-2.3", True, (28,), 3.0)])
def test_variant_presets(tmp_path, variant, cross, blocks, cfg):
    _write_manifest(tmp_path, variant=variant)
    manifest, problems = read_manifest(tmp_path)
    assert not problems
    assert manifest.use_cross_timestep is cross and manifest.stg_blocks == blocks
    assert manifest.preset_guidance.get("guidance_scale") == cfg
    # Manifest keys win over the preset.
    _write_manifest(tmp_path, variant=variant, use_cross_timestep=not cross, stg_blocks=[5], guidance_scale=4.5)
    manifest, _ = read_manifest(tmp_path)
    assert manifest.use_cross_timestep is (not cross) and manifest.stg_blocks == (5,)
    assert manifest.guidance["guidance_scale"] == 4.5


def test_stg_block_beyond_the_transformer_is_reported(tiny_store, tmp_path):
    folder = tmp_path / "store"
    shutil.copytree(tiny_store, folder)
    manifest = json.loads((folder / "kinora-ltx2.json").read_text())
    manifest["variant"] = "ltx-2.3"
    del manifest["stg_blocks"]  # the preset's block 28; the tiny transformer has 2
    (folder / "kinora-ltx2.json").write_text(json.dumps(manifest))
    problems = check_store(folder, weights=False).problems
    expected = "stg_blocks [28] (variant 'ltx-2.3') name a block the transformer's 2 layers do not have"
    assert any(expected in p for p in problems)


def test_guidance_reaches_the_pipeline_as_configured(ltx2_model, monkeypatch):
    # CFG on (so the negative prompt is used), video STG on, audio STG explicitly off.
    manifest = dataclasses.replace(
        ltx2_model.manifest,
        guidance={"guidance_scale": 2.0, "stg_scale": 1.0, "audio_stg_scale": 0.0},
        use_cross_timestep=False,
    )
    monkeypatch.setattr(ltx2_model, "manifest", manifest)
    pipe = ltx2_model.t2v
    seen = {}
    encode, call = pipe.encode_prompt, type(pipe).__call__

    def spy_encode(*args, **kwargs):
        seen["negative_prompt"] = kwargs.get("negative_prompt")
        return encode(*args, **kwargs)

    def spy_call(self, *args, **kwargs):
        seen.update(kwargs)
        return call(self, *args, **kwargs)

    monkeypatch.setattr(pipe, "encode_prompt", spy_encode)
    monkeypatch.setattr(type(pipe), "__call__", spy_call)
    result = ltx2_model.generate(
        ModelRequest(prompt="a cat jumps over a fence", seconds=4, seed=3), lambda p, s: None, lambda: False
    )
    assert pipe.stg_scale == 1.0 and pipe.audio_stg_scale < 1e-20  # not silently the video value
    assert seen["use_cross_timestep"] is False and seen["spatio_temporal_guidance_blocks"] == [1]
    assert seen["negative_prompt"].startswith("blurry, out of focus")  # LTX-2's reference negative prompt
    assert result.report["guidance"]["audio_stg_scale"] == 0.0
    assert result.report["negative_prompt"] == "reference default"
