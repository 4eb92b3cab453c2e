"""The worker's model runner: `kinora.models.client` over Triton gRPC, with the
client's error codes turned into the contract's exceptions the worker acts on."""

from __future__ import annotations

import threading

from kinora.models import client
from kinora.models.contract import ModelCancelled, ModelError, ModelInputError, ModelRequest, ModelResult


class ModelUnavailable(ConnectionError):
    """The model server could not be reached or dropped the stream (retryable)."""


class ModelTimeout(ModelError):
    code = "timeout"


class TritonRunner:
    def __init__(self, url: str):
        self.url = url

    def generate(
        self, model: str, request: ModelRequest, progress, cancel: threading.Event, timeout_s: float
    ) -> ModelResult:
        try:
            return client.generate(
                self.url, model, request, on_progress=progress, timeout_s=timeout_s, cancel_event=cancel
            )
        except client.ModelCallError as exc:
            if exc.code == "cancelled":
                raise ModelCancelled() from exc
            if exc.code == "invalid_argument":
                raise ModelInputError(exc.message) from exc
            if exc.code == "unavailable":
                raise ModelUnavailable(exc.message) from exc
            if exc.code == "deadline_exceeded":
                raise ModelTimeout(exc.message) from exc
            error = ModelError(exc.message)
            error.code = exc.code or "internal"
            raise error from exc

    def compute_seconds(self, model: str, access_token: str | None = None) -> float:
        """Cumulative compute time Triton's statistics API reports for a model.
        PyTriton guards statistics with an access token (its `get_access_token()`)."""
        from tritonclient.grpc import InferenceServerClient

        headers = {"triton-grpc-protocol-triton-access-token": access_token} if access_token else None
        triton = InferenceServerClient(self.url)
        try:
            stats = triton.get_inference_statistics(model_name=model, headers=headers, as_json=True)
        finally:
            triton.close()
        total_ns = 0
        for entry in stats.get("model_stats", []):
            infer = entry.get("inference_stats", {})
            for part in ("compute_input", "compute_infer", "compute_output"):
                total_ns += int(infer.get(part, {}).get("ns", 0))
        return total_ns / 1e9
