"""worldsim served through a real Triton (PyTriton) and called with the gRPC client."""

from __future__ import annotations

import threading

import pytest

from kinora.media.probe import probe_mp4
from kinora.models.client import ModelCallError, generate
from kinora.models.contract import ModelRequest
from kinora.models.serve import ModelServer
from kinora.stack.tansu import free_port


def test_generate_through_triton_with_progress_errors_and_cancel(worldsim, tmp_path):
    grpc_port, http_port, metrics_port = free_port(), free_port(), free_port()
    url = f"127.0.0.1:{grpc_port}"
    with ModelServer(
        {"worldsim": worldsim},
        grpc_port,
        http_port,
        metrics_port,
        log_file=str(tmp_path / "triton.log"),
        workspace=str(tmp_path / "ws"),
    ):
        progress: list = []
        result = generate(
            url,
            "worldsim",
            ModelRequest(prompt="a dog chases a ball in the park", seconds=4, seed=2, watermark="@dana"),
            on_progress=lambda p, s: progress.append((p, s)),
            timeout_s=120,
        )
        assert len(progress) >= 5 and progress[0][1] == "plan" and any(s == "render" for _, s in progress)
        probe = probe_mp4(result.mp4, decode_frames=True, decode_audio=True, frame_step=24)
        assert (probe.width, probe.height, probe.video_codec, probe.audio_codec) == (720, 1280, "h264", "aac")
        assert len(probe.frames) == 4 and probe.audio.shape[0] == 2
        assert result.thumbnail_jpeg[:2] == b"\xff\xd8"
        assert result.report["plan"]["setting"] == "park" and result.report["contacts"]

        with pytest.raises(ModelCallError) as bad:
            generate(url, "worldsim", ModelRequest(prompt="a dog", seconds=7), timeout_s=60)
        assert bad.value.code == "invalid_argument" and "seconds" in bad.value.message

        stop = threading.Event()
        seen: list = []

        def on_progress(p, s):
            seen.append(s)
            if s == "render":
                stop.set()  # cancel once rendering has started

        with pytest.raises(ModelCallError) as cancelled:
            generate(
                url,
                "worldsim",
                ModelRequest(prompt="a dog runs in the park", seconds=20, seed=1),
                on_progress=on_progress,
                timeout_s=120,
                cancel_event=stop,
            )
        assert cancelled.value.code == "cancelled"
        assert "done" not in seen

        with pytest.raises(ModelCallError) as missing:
            generate(url, "no_such_model", ModelRequest(prompt="x", seconds=4), timeout_s=30)
        assert missing.value.code == "unavailable"
    assert (tmp_path / "triton.log").exists()
