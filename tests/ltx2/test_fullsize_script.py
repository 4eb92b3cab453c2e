"""scripts/ltx2_fullsize.py refuses without CUDA, and its measuring code runs (on the tiny
components, on the CPU: --smoke) so the GPU run does not discover its own bugs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ltx2_fullsize.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_refuses_without_cuda():
    done = _run()
    assert done.returncode == 1
    assert "no CUDA GPU is visible" in done.stderr and "real LTX-2 sizes" in done.stderr


def test_smoke_run_reports_every_figure():
    done = _run("--smoke")
    assert done.returncode == 0, done.stderr[-2000:]
    clips = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(c["schedule"], c["steps_run"]) for c in clips] == [("distilled", 8), ("standard", 4)]
    for clip in clips:
        assert "error" not in clip
        assert set(clip["seconds_by_stage"]) == {
            "text_encoder",
            "connectors",
            "transformer",
            "vae",
            "audio_vae",
            "vocoder",
        }
        assert clip["seconds_per_step"] > 0 and clip["total_s"] > 0 and clip["mp4_bytes"] > 0
    assert clips[1]["total_s_projected_full"] > clips[1]["total_s"]
