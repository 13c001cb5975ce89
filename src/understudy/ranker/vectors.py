"""Text vectors for ranker features, kept in the store's embeddings table by text hash."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from ..embeddings import Embedder
from ..store import Store

CHUNK = 512


@lru_cache(maxsize=65536)
def text_hash(text: str) -> str:
    """The key a text's vector is stored under."""
    return hashlib.sha1(text.encode()).hexdigest()


class CachedEncoder:
    """Encodes texts with `embedder`, reusing vectors stored for the same text before."""

    def __init__(self, embedder: Embedder, store: Store | None = None):
        self.embedder = embedder
        self.store = store
        self.model = f"{embedder.name}#texts"  # apart from the index's rows, never pruned
        self._vectors: dict[str, np.ndarray] | None = None

    def _known(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            if self.store is not None:
                for key, blob in self.store.embedding_vectors(self.model):
                    self._vectors[key] = np.frombuffer(blob, dtype=np.float32)
        return self._vectors

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors of `texts`, one row each."""
        known = self._known()
        keys = [text_hash(t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in known))
        by_key = dict(zip(keys, texts, strict=True))
        # Similar lengths share a batch, so little of each batch is padding.
        todo.sort(key=lambda k: len(by_key[k]))
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            vectors = self.embedder.encode([by_key[k] for k in chunk])
            for key, vector in zip(chunk, vectors, strict=True):
                known[key] = vector
            if self.store is not None:
                self.store.put_embeddings(
                    self.model, [(k, k, v.tobytes()) for k, v in zip(chunk, vectors, strict=True)]
                )
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([known[k] for k in keys])
