"""Serve Kinora video models through NVIDIA Triton with PyTriton.

One Triton model per Kinora model (Triton model name = Kinora model name), decoupled
so progress streams while the clip is made. Every streamed response carries all
outputs; `kind` says which ones matter:

  inputs   request     BYTES [1]  ModelRequest JSON (kinora.models.contract; image and
                                  face PNGs are base64 inside the JSON)
           request_id  BYTES [1]  optional; lets the `cancel` model stop this request
  outputs  kind        BYTES [1]  "progress" | "result" | "error"
           progress    FP32  [1]  0..100
           stage       BYTES [1]  plan / simulate / render / ...
           mp4         BYTES [1]  encoded clip (result only)
           thumbnail   BYTES [1]  JPEG (result only)
           report      BYTES [1]  JSON report; for "error": {"code", "message"}

Cancellation: a tiny non-decoupled Triton model named `cancel` (input `request_id`
BYTES [1], output `found` BYTES [1]) marks a running request id as cancelled; the
model's `cancelled()` callable reads that mark, so the model stops at its next check
(between stages and between frames) and the stream ends with kind "error", code
"cancelled". Both models live in this one process, so a shared set is enough.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sysconfig
import threading
import time
from pathlib import Path

import numpy as np

from kinora.models.contract import ModelError, VideoModel, request_from_json

LOG = logging.getLogger("kinora.models.serve")
CANCEL_MODEL = "cancel"


def _ensure_libpython_on_path() -> None:
    # Triton's Python backend stub links against libpython; with pyenv it is not on
    # the default search path, so the stub would fail to start.
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    current = os.environ.get("LD_LIBRARY_PATH", "")
    if libdir and libdir not in current.split(":"):
        os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


def _response(
    kind: str,
    progress: float = 0.0,
    stage: str = "",
    mp4: bytes = b"",
    thumbnail: bytes = b"",
    report: dict | None = None,
) -> dict:
    return {
        "kind": np.array([kind.encode()], dtype=np.object_),
        "progress": np.array([progress], dtype=np.float32),
        "stage": np.array([stage.encode()], dtype=np.object_),
        "mp4": np.array([mp4], dtype=np.object_),
        "thumbnail": np.array([thumbnail], dtype=np.object_),
        "report": np.array([json.dumps(report or {}).encode()], dtype=np.object_),
    }


def _first_bytes(request, name: str) -> bytes | None:
    if name not in request.data:
        return None
    value = np.asarray(request.data[name]).reshape(-1)
    if value.size == 0:
        return None
    item = value[0]
    return item if isinstance(item, bytes) else bytes(item)


class CancelRegistry:
    """Request ids that callers asked to stop; shared by the models and `cancel`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._cancelled: set[str] = set()

    def start(self, request_id: str) -> None:
        with self._lock:
            self._running.add(request_id)

    def finish(self, request_id: str) -> None:
        with self._lock:
            self._running.discard(request_id)
            self._cancelled.discard(request_id)

    def cancel(self, request_id: str) -> bool:
        with self._lock:
            if request_id in self._running:
                self._cancelled.add(request_id)
                return True
            return False

    def is_cancelled(self, request_id: str) -> bool:
        with self._lock:
            return request_id in self._cancelled


def make_infer(model: VideoModel, registry: CancelRegistry):
    """The decoupled PyTriton inference callable for one Kinora model."""

    async def infer(requests):
        for request in requests:  # batching is off: one request per call in practice
            async for response in _generate_one(model, registry, request):
                yield [response]

    return infer


async def _generate_one(model: VideoModel, registry: CancelRegistry, request):
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    raw = _first_bytes(request, "request")
    request_id = (_first_bytes(request, "request_id") or b"").decode() or f"anon-{id(request)}-{time.time_ns()}"
    if raw is None:
        yield _response("error", report={"code": "invalid_argument", "message": "input 'request' is missing"})
        return
    try:
        parsed = request_from_json(raw)
    except ModelError as exc:
        yield _response("error", report={"code": exc.code, "message": exc.message})
        return
    registry.start(request_id)

    def progress(percent: float, stage: str) -> None:
        loop.call_soon_threadsafe(events.put_nowait, ("progress", float(percent), stage))

    def run() -> None:
        try:
            result = model.generate(parsed, progress, lambda: registry.is_cancelled(request_id))
            loop.call_soon_threadsafe(events.put_nowait, ("result", result))
        except ModelError as exc:
            loop.call_soon_threadsafe(events.put_nowait, ("error", exc.code, exc.message))
        except Exception as exc:  # a model bug must still end the stream with a reason
            LOG.exception("model %s failed", getattr(model, "name", "?"))
            loop.call_soon_threadsafe(events.put_nowait, ("error", "internal", f"{type(exc).__name__}: {exc}"))

    worker = threading.Thread(target=run, name=f"model-{request_id}", daemon=True)
    worker.start()
    try:
        while True:
            event = await events.get()
            if event[0] == "progress":
                yield _response("progress", progress=event[1], stage=event[2])
            elif event[0] == "result":
                result = event[1]
                yield _response(
                    "result",
                    progress=100.0,
                    stage="done",
                    mp4=result.mp4,
                    thumbnail=result.thumbnail_jpeg,
                    report=result.report,
                )
                return
            else:
                yield _response("error", stage="failed", report={"code": event[1], "message": event[2]})
                return
    finally:
        if worker.is_alive():
            # The stream ended before the model did (the caller went away, or Triton
            # closed the stream): stop the model at its next check instead of finishing
            # a clip nobody will receive while the GPU stays busy.
            registry.cancel(request_id)
        await asyncio.to_thread(worker.join)
        registry.finish(request_id)


def make_cancel(registry: CancelRegistry):
    def cancel(requests):
        out = []
        for request in requests:
            request_id = (_first_bytes(request, "request_id") or b"").decode()
            found = registry.cancel(request_id) if request_id else False
            out.append({"found": np.array([b"true" if found else b"false"], dtype=np.object_)})
        return out

    return cancel


class ModelServer:
    """Triton (via PyTriton) serving a set of Kinora models plus `cancel`."""

    def __init__(
        self,
        models: dict[str, VideoModel],
        grpc_port: int = 8001,
        http_port: int = 8000,
        metrics_port: int = 8002,
        log_file: str | None = None,
        workspace: str | None = None,
    ):
        self.models = models
        self.ports = (grpc_port, http_port, metrics_port)
        self.log_file = log_file or os.path.join(os.environ.get("KINORA_DATA_DIR", "/tmp"), f"triton-{grpc_port}.log")
        self.workspace = workspace
        self.registry = CancelRegistry()
        self._triton = None

    def start(self) -> None:
        _ensure_libpython_on_path()
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor  # noqa: F401
        from pytriton.triton import Triton, TritonConfig

        Path(self.log_file).parent.mkdir(parents=True, exist_ok=True)
        grpc_port, http_port, metrics_port = self.ports
        config = TritonConfig(
            grpc_port=grpc_port,
            http_port=http_port,
            metrics_port=metrics_port,
            log_file=Path(self.log_file),
            log_verbose=0,
        )
        triton = Triton(config=config, workspace=self.workspace)
        for name, model in self.models.items():
            triton.bind(
                model_name=name,
                infer_func=make_infer(model, self.registry),
                inputs=[
                    Tensor(name="request", dtype=bytes, shape=(1,)),
                    Tensor(name="request_id", dtype=bytes, shape=(1,), optional=True),
                ],
                outputs=[
                    Tensor(name="kind", dtype=bytes, shape=(1,)),
                    Tensor(name="progress", dtype=np.float32, shape=(1,)),
                    Tensor(name="stage", dtype=bytes, shape=(1,)),
                    Tensor(name="mp4", dtype=bytes, shape=(1,)),
                    Tensor(name="thumbnail", dtype=bytes, shape=(1,)),
                    Tensor(name="report", dtype=bytes, shape=(1,)),
                ],
                config=ModelConfig(batching=False, decoupled=True),
                strict=False,
            )
        triton.bind(
            model_name=CANCEL_MODEL,
            infer_func=make_cancel(self.registry),
            inputs=[Tensor(name="request_id", dtype=bytes, shape=(1,))],
            outputs=[Tensor(name="found", dtype=bytes, shape=(1,))],
            config=ModelConfig(batching=False),
            strict=False,
        )
        triton.run()
        self._triton = triton
        LOG.info("serving %s on grpc :%d (triton log %s)", ", ".join(self.models), grpc_port, self.log_file)

    @property
    def access_token(self) -> str | None:
        """PyTriton's token for the protected endpoints (statistics, model repository)."""
        return self._triton.get_access_token() if self._triton is not None else None

    def stop(self) -> None:
        if self._triton is not None:
            self._triton.stop()
            self._triton = None

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    models: dict[str, VideoModel],
    grpc_port: int = 8001,
    http_port: int = 8000,
    metrics_port: int = 8002,
    log_file: str | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop Triton cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = ModelServer(models, grpc_port, http_port, metrics_port, log_file)
    server.start()
    try:
        stop.wait()
    finally:
        LOG.info("stopping Triton")
        server.stop()


def load_model(spec: str) -> tuple[str, VideoModel]:
    """`worldsim`, `ltx2`, or `name=package.module:factory` for any other model: the
    factory is called with no arguments and returns a VideoModel; it reads its own
    settings (weights path...) from the environment."""
    builtin = {"worldsim": "worldsim.model:WorldSim", "ltx2": "kinora.models.ltx2:load_from_env"}
    name, _, target = spec.partition("=")
    if not target:
        if name not in builtin:
            raise SystemExit(f"unknown model {name!r}: use one of {sorted(builtin)} or NAME=module:factory")
        target = builtin[name]
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"model {name!r}: expected NAME=module:factory, got {spec!r}")
    from importlib import import_module

    model = getattr(import_module(module_name), attribute)()
    if hasattr(model, "warm_up"):
        model.warm_up()  # load weights / embeddings before the first request
    return name, model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve Kinora video models through Triton")
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        help="model to serve (repeatable): worldsim, ltx2, or NAME=module:factory",
    )
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--log-file", default=None, help="Triton's own log (default /tmp/triton-<grpc port>.log)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    specs = [spec.strip() for arg in args.model for spec in arg.split(",") if spec.strip()]  # "worldsim,ltx2" works too
    serve(dict(load_model(spec) for spec in specs), args.grpc_port, args.http_port, args.metrics_port, args.log_file)


if __name__ == "__main__":
    main()
