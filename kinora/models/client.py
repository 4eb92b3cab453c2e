"""Call a Kinora model served by Triton (kinora.models.serve) over gRPC streaming."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np

from kinora.models.contract import ModelRequest, ModelResult, request_to_json


class ModelCallError(Exception):
    """The model (or the call) failed; `code` is the model's code, e.g. invalid_argument,
    cancelled, internal, unavailable, deadline_exceeded."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _bytes_input(name: str, value: bytes):
    from tritonclient.grpc import InferInput

    tensor = InferInput(name, [1], "BYTES")
    tensor.set_data_from_numpy(np.array([value], dtype=np.object_))
    return tensor


def cancel(url: str, request_id: str, timeout_s: float = 10.0) -> bool:
    """Ask the server to stop `request_id`; True when it was running."""
    from tritonclient.grpc import InferenceServerClient

    client = InferenceServerClient(url)
    try:
        result = client.infer("cancel", [_bytes_input("request_id", request_id.encode())], client_timeout=timeout_s)
        return result.as_numpy("found")[0] == b"true"
    finally:
        client.close()


def generate(
    url: str,
    model_name: str,
    request: ModelRequest,
    on_progress: Callable[[float, str], None] | None = None,
    timeout_s: float = 600.0,
    cancel_event: threading.Event | None = None,
    request_id: str | None = None,
) -> ModelResult:
    """Run one generation; blocks until the result. Raises ModelCallError.

    Setting `cancel_event` (from another thread) cancels the request on the server and
    raises ModelCallError("cancelled"). Exceeding `timeout_s` cancels it too and raises
    ModelCallError("deadline_exceeded"). For asyncio callers: `await asyncio.to_thread(generate, ...)`.
    """
    from tritonclient.grpc import InferenceServerClient
    from tritonclient.utils import InferenceServerException

    request_id = request_id or uuid.uuid4().hex
    responses: queue.Queue = queue.Queue()
    client = InferenceServerClient(url)
    try:
        try:
            client.start_stream(callback=lambda result, error: responses.put((result, error)))
            client.async_stream_infer(
                model_name,
                [
                    _bytes_input("request", request_to_json(request).encode()),
                    _bytes_input("request_id", request_id.encode()),
                ],
                request_id=request_id,
            )
        except InferenceServerException as exc:
            raise ModelCallError("unavailable", f"cannot reach model {model_name!r} at {url}: {exc.message()}") from exc
        deadline = time.monotonic() + timeout_s
        asked_to_cancel = False
        while True:
            if cancel_event is not None and cancel_event.is_set() and not asked_to_cancel:
                cancel(url, request_id)
                asked_to_cancel = True
                deadline = min(deadline, time.monotonic() + 30)  # the model stops at its next check
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if not asked_to_cancel:
                    cancel(url, request_id)
                    raise ModelCallError(
                        "deadline_exceeded", f"model {model_name!r} took longer than {timeout_s:.0f} s"
                    )
                raise ModelCallError("cancelled", "generation was cancelled")
            try:
                result, error = responses.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            if error is not None:
                raise ModelCallError("unavailable", f"model {model_name!r} stream failed: {error}")
            kind = result.as_numpy("kind")[0].decode()
            if kind == "progress":
                if on_progress is not None:
                    on_progress(float(result.as_numpy("progress")[0]), result.as_numpy("stage")[0].decode())
            elif kind == "result":
                return ModelResult(
                    mp4=bytes(result.as_numpy("mp4")[0]),
                    thumbnail_jpeg=bytes(result.as_numpy("thumbnail")[0]),
                    report=json.loads(result.as_numpy("report")[0]),
                )
            elif kind == "error":
                detail = json.loads(result.as_numpy("report")[0])
                raise ModelCallError(detail.get("code", "internal"), detail.get("message", "model failed"))
    finally:
        try:
            client.stop_stream()
        finally:
            client.close()
