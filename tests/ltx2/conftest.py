"""One tiny random LTX-2 model store per session, loaded through the production code
(`load_from_env`), and one real Triton server (PyTriton) serving it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never download anything
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[2]


def _store_builder():
    spec = importlib.util.spec_from_file_location("make_tiny_ltx2_store", ROOT / "scripts" / "make_tiny_ltx2_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    return _store_builder().make_store(tmp_path_factory.mktemp("ltx2") / "store", seed=0)


@pytest.fixture(scope="session")
def ltx2_model(tiny_store):
    from kinora.models.ltx2 import load_from_env

    # KINORA_LTX2_TEST_DEVICE / KINORA_LTX2_TEST_OFFLOAD: the tests on a GPU (scripts/ltx2_gpu_check.sh).
    device = os.environ.get("KINORA_LTX2_TEST_DEVICE", "cpu")
    env = {"KINORA_MODEL_STORE": str(tiny_store), "KINORA_LTX2_DEVICE": device}
    if os.environ.get("KINORA_LTX2_TEST_OFFLOAD"):
        env["KINORA_LTX2_CPU_OFFLOAD"] = os.environ["KINORA_LTX2_TEST_OFFLOAD"]
    return load_from_env(env)


@pytest.fixture(scope="session")
def triton_url(ltx2_model):
    from kinora.models.serve import ModelServer
    from kinora.stack.tansu import free_port

    ports = free_port(), free_port(), free_port()
    server = ModelServer({"ltx2": ltx2_model}, *ports, log_file=f"/tmp/kinora-triton-ltx2-{ports[0]}.log")
    server.start()
    try:
        yield f"127.0.0.1:{ports[0]}"
    finally:
        server.stop()
