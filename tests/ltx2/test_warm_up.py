"""The model server warms LTX-2 up before Triton starts, so the pool's startup probe
(Triton's /v2/health/ready) only passes once a clip has gone through every component."""

from __future__ import annotations

from kinora.models import serve
from kinora.models.ltx2 import Ltx2Model


def test_serve_runs_a_warm_up_generation_before_serving(tiny_store, monkeypatch):
    monkeypatch.setenv("KINORA_MODEL_STORE", str(tiny_store))
    monkeypatch.setenv("KINORA_LTX2_DEVICE", "cpu")
    outputs = []
    run = Ltx2Model._run_pipeline

    def spy(self, *args, **kwargs):
        out = run(self, *args, **kwargs)
        outputs.append(out)
        return out

    monkeypatch.setattr(Ltx2Model, "_run_pipeline", spy)
    name, model = serve.load_model("ltx2")  # what `python -m kinora.models.serve --model ltx2` does before Triton
    assert name == "ltx2" and isinstance(model, Ltx2Model)
    assert model.warm_up_seconds is not None and model.warm_up_seconds > 0
    ((video, audio, rate),) = outputs  # one full run: frames decoded, audio vocoded
    assert video.shape == (9, 128, 128, 3) and audio.size > 0 and rate == 16000
