"""Encoding the queries of concurrent requests together: one model pass for many requests."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class _Slot:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str):
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class BatchingEmbedder:
    """Wraps an embedder: single-text encodes that arrive while one runs are batched together.

    The model runs one batch at a time anyway (it holds a lock), so requests that would have
    queued for it share the next pass instead; a lone request is encoded at once.
    """

    def __init__(self, inner: Any, max_batch: int = 32):
        self.inner = inner
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: list[str], **options: Any) -> np.ndarray:
        if len(texts) != 1 or options:
            return self.inner.encode(texts, **options)
        slot = _Slot(texts[0])
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if self._busy:
                    self._cond.wait()
                    continue
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self._busy = True
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.vector[None, :]

    def _run(self, batch: list[_Slot]) -> None:
        try:
            vectors = self.inner.encode([s.text for s in batch])
        except BaseException as exc:  # every waiting request sees the failure
            for s in batch:
                s.error, s.done = exc, True
            return
        for s, vector in zip(batch, vectors, strict=True):
            s.vector, s.done = vector, True
