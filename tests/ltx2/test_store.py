"""`kinora models check` and the store validator catch broken stores with clear messages."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from kinora.models.ltx2_store import StoreError, check_store, require_usable


@pytest.fixture
def store_copy(tiny_store, tmp_path):
    folder = tmp_path / "store"
    shutil.copytree(tiny_store, folder)
    return folder


def _cli():
    import typer

    from kinora.cli.models import register

    app = typer.Typer()
    app.command()(lambda: None)  # a second command keeps `models` a subcommand
    register(app)
    return app


def test_tiny_store_passes_check(tiny_store):
    report = check_store(tiny_store)
    assert report.ok, report.problems
    assert any(note.startswith("transformer:") for note in report.notes)
    result = CliRunner().invoke(_cli(), ["models", "check", str(tiny_store), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


def test_missing_part_is_reported(store_copy):
    (store_copy / "vocoder" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.rmtree(store_copy / "tokenizer")
    problems = check_store(store_copy).problems
    assert (
        "vocoder: no weights: expected diffusion_pytorch_model.safetensors or "
        "diffusion_pytorch_model.safetensors.index.json"
    ) in problems
    assert "tokenizer: folder tokenizer/ is missing" in problems
    result = CliRunner().invoke(_cli(), ["models", "check", str(store_copy)])
    assert result.exit_code == 1
    assert "vocoder: no weights" in result.output and "2 problem(s)" in result.output


def test_wrong_shapes_and_dtype_are_reported(store_copy):
    config_path = store_copy / "transformer" / "config.json"
    config = json.loads(config_path.read_text())
    config["attention_head_dim"] = 4  # the weights were saved for 8
    config_path.write_text(json.dumps(config))
    problems = check_store(store_copy).problems
    shape = [p for p in problems if p.startswith("transformer: tensor ") and "has shape" in p]
    assert shape and "the config needs" in shape[0]


def test_storage_dtype_is_not_the_compute_dtype(store_copy):
    # The manifest's dtype is what the model computes in; bf16 files run as float32 (or
    # float32 files as bf16) are cast once at load, which is no problem, only a note.
    manifest_path = store_copy / "kinora-ltx2.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["dtype"] = "float32"  # the weights are bfloat16
    manifest_path.write_text(json.dumps(manifest))
    report = check_store(store_copy)
    assert report.ok, report.problems
    assert any(n.startswith("vae:") and "stored as bfloat16, cast to float32 at load" in n for n in report.notes)


def test_mismatched_components_are_reported(store_copy):
    config_path = store_copy / "vocoder" / "config.json"
    config = json.loads(config_path.read_text())
    config["in_channels"] = 16
    config_path.write_text(json.dumps(config))
    problems = check_store(store_copy, weights=False).problems
    assert "vocoder: in_channels 16 != audio VAE mel output (8)" in problems


def test_unusable_store_refuses_to_load_with_every_reason(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    (tmp_path / "kinora-ltx2.json").write_text(json.dumps({"steps": 0, "colour": "red"}))
    with pytest.raises(StoreError) as caught:
        require_usable(tmp_path)
    text = str(caught.value)
    assert "expected one of LTX2Pipeline" in text
    assert "kinora-ltx2.json: unknown key 'colour'" in text
    assert "kinora-ltx2.json: steps=0 is not valid" in text
    assert "transformer: not listed in model_index.json" in text
    assert check_store(tmp_path / "nowhere").problems == [f"{tmp_path / 'nowhere'} is not a folder"]


def test_bad_settings_name_the_variable(tiny_store):
    from kinora.models.ltx2 import load_from_env
    from kinora.runtime.settings import SettingsError

    with pytest.raises(SettingsError) as caught:
        load_from_env(
            {"KINORA_MODEL_STORE": str(tiny_store), "KINORA_LTX2_DTYPE": "int8", "KINORA_LTX2_CPU_OFFLOAD": "always"}
        )
    assert "KINORA_LTX2_DTYPE='int8' is not valid: expected bfloat16, float16 or float32" in caught.value.problems
    assert any(p.startswith("KINORA_LTX2_CPU_OFFLOAD='always'") for p in caught.value.problems)
    with pytest.raises(SettingsError, match="KINORA_MODEL_STORE is required"):
        load_from_env({})
    with pytest.raises(ValueError, match="needs a CUDA device"):
        load_from_env(
            {"KINORA_MODEL_STORE": str(tiny_store), "KINORA_LTX2_DEVICE": "cpu", "KINORA_LTX2_CPU_OFFLOAD": "model"}
        )
