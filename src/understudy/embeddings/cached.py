"""The store-cached encoder: text vectors for ranker features, kept in the store's embeddings
table by text hash, with the reply profiles the ranker reads."""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache

import numpy as np

from ..ranker.features import TextProfile, forget, pack, profile, unpack
from ..store import Store
from . import Encoder, Kind

CHUNK = 512
# Where reply profiles (terms, form flags, procedural or not) are kept, by the hash of the
# whole text; the version changes whenever tokenising or the flags change.
PROFILES = "ranker-profiles/2"
LIVE = 65536  # unpacked profiles kept in memory, at most


@lru_cache(maxsize=65536)
def text_hash(text: str) -> str:
    """The key a text's vector is stored under."""
    return hashlib.sha1(text.encode()).hexdigest()


class CachedEncoder:
    """Encodes texts with `embedder`, reusing vectors stored for the same text before; the
    ranker calls it on texts it reads as passages, and keeps reply profiles with it."""

    def __init__(self, embedder: Encoder, store: Store | None = None):
        self.embedder = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.store = store
        self.model = f"{embedder.name}#texts"  # apart from the index's rows, never pruned
        # Every known vector is a row of one float32 matrix: a few bytes of bookkeeping per
        # text rather than a Python object each (a reply vector is 1.5 KiB either way).
        self._rows: dict[str, int] | None = None
        self._matrix = np.zeros((0, embedder.dim), dtype=np.float32)
        self._size = 0
        self._lock = threading.Lock()  # servers rank on many threads
        self._profiles: dict[str, bytes] | None = None
        self._live: dict[str, TextProfile] = {}  # profiles in use, by text hash

    def _known(self) -> dict[str, int]:
        """The row of each known text's vector, read from the store the first time."""
        if self._rows is None:
            with self._lock:
                if self._rows is None:
                    rows: dict[str, int] = {}
                    if self.store is not None:
                        for key, blob in self.store.embedding_vectors(self.model):
                            self._append_locked([key], np.frombuffer(blob, dtype=np.float32)[None])
                            rows[key] = self._size - 1
                    self._rows = rows
        return self._rows

    def _append_locked(self, keys: list[str], vectors: np.ndarray) -> None:
        """Add rows for `keys` (the lock held), growing the matrix by doubling."""
        end = self._size + len(keys)
        if end > len(self._matrix):
            grown = np.empty((max(end, 2 * len(self._matrix), 1024), self.embedder.dim),
                             dtype=np.float32)
            grown[: self._size] = self._matrix[: self._size]
            self._matrix = grown
        self._matrix[self._size : end] = vectors
        if self._rows is not None:
            for n, key in enumerate(keys):
                self._rows[key] = self._size + n
        self._size = end

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors of `texts`, one row each."""
        rows = self._known()
        keys = [text_hash(t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in rows))
        by_key = dict(zip(keys, texts, strict=True))
        # Similar lengths share a batch, so little of each batch is padding.
        todo.sort(key=lambda k: len(by_key[k]))
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            vectors = self.embedder.encode([by_key[k] for k in chunk])
            with self._lock:
                fresh = [n for n, k in enumerate(chunk) if k not in rows]  # not by another thread
                self._append_locked([chunk[n] for n in fresh], vectors[fresh])
            if self.store is not None:
                self.store.put_embeddings(
                    self.model, [(k, k, v.tobytes()) for k, v in zip(chunk, vectors, strict=True)]
                )
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        with self._lock:
            return self._matrix[[rows[k] for k in keys]]

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray:
        """Passages through the cache; queries straight from `embedder` (the cache holds
        passage vectors, and e5 reads a query otherwise)."""
        return self(texts) if kind == "passage" else self.embedder.encode(texts, kind=kind)

    def forget(self, stored: bool = False) -> None:
        """Forget every text met so far, as a process just started; with `stored`, also the
        profiles read from the store, so they are computed (and stored) again."""
        self._live.clear()
        if stored:
            self._profiles = {}
        text_hash.cache_clear()
        forget()

    def profiles(self, texts: list[str]) -> list[TextProfile]:
        """Profiles of reply texts: stored ones are read back, new ones are computed and
        stored, so a process that meets a reply for the first time does not tokenise it."""
        if self._profiles is None:
            self._profiles = dict(self.store.embedding_vectors(PROFILES)) if self.store else {}
        if len(self._live) > LIVE:
            self._live.clear()
        out, new = [], []
        for text in texts:
            key = text_hash(text)
            found = self._live.get(key)
            if found is None:
                blob = self._profiles.get(key)
                if blob is None:
                    found = profile(text)
                    self._profiles[key] = blob = pack(found)
                    new.append((key, key, blob))
                else:
                    found = unpack(blob, text)
                self._live[key] = found
            out.append(found)
        if new and self.store is not None:
            self.store.put_embeddings(PROFILES, new)
        return out
