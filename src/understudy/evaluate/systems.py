"""The ranking systems compared on benchmarks, built from the index's own parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import index
from ..embeddings import BM25_WEIGHTS, Embedder, Kind, get_embedder
from ..index import BM25, EMBED_CHARS, fuse
from .data import Benchmark, Query

SYSTEMS = ("default", "bm25", "embeddings", "hybrid", "search-engine")
EMBEDDED = ("default", "embeddings", "hybrid")
Progress = Callable[[str, int, int], None]  # (what, done, total)


class Ranker:
    """Scores every query's candidates with each system; encodes each distinct text once, as
    the index does: a query with kind="query", a candidate's texts with kind="passage" (e5
    reads the two with different prefixes; the other models read them alike)."""

    def __init__(
        self,
        benchmark: Benchmark,
        embedder: Embedder | None = None,
        weight: float | None = None,
        progress: Progress | None = None,
    ):
        self.benchmark = benchmark
        self._embedder = embedder
        self.weight = index.BM25_WEIGHT if weight is None else weight
        self.progress = progress
        self._vectors: dict[tuple[Kind, str], np.ndarray] = {}
        self._corpora: dict[str, tuple[BM25, dict[str, int]]] = {}
        self._slot_cache: dict[tuple[str, int], _Slots] = {}

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    @property
    def default_weight(self) -> float:
        """The BM25 share the index fuses at with this encoder (the `default` system's)."""
        return BM25_WEIGHTS.get(self.embedder.name, index.BM25_WEIGHT)

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray:
        """Vectors of `texts` read as `kind`, encoding only those not seen before in this run."""
        self.encode_all([(kind, t) for t in texts])
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._vectors[kind, t] for t in texts])

    def encode_all(self, pairs: list[tuple[Kind, str]]) -> None:
        """Encode each (kind, text) not seen before in this run, a kind per batch."""
        todo = list(dict.fromkeys(p for p in pairs if p not in self._vectors))
        done, step = 0, 256
        for kind in ("query", "passage"):
            texts = [t for k, t in todo if k == kind]
            for start in range(0, len(texts), step):
                chunk = texts[start : start + step]
                vectors = self.embedder.encode(chunk, kind=kind)
                for text, vector in zip(chunk, vectors, strict=True):
                    self._vectors[kind, text] = vector
                done += len(chunk)
                if self.progress:
                    self.progress("encoding", done, len(todo))

    def prepare(self, systems: list[str]) -> None:
        """Encode up front everything `systems` will need, so progress shows one bar."""
        views = {"item" if s == "default" else "text" for s in systems if s in EMBEDDED}
        pairs: list[tuple[Kind, str]] = []
        for view in sorted(views):
            for query in self.benchmark.queries:
                pairs += [("passage", t) for t in self._slots(query, view).embed_texts]
        if pairs:
            pairs += [("query", q.text[:EMBED_CHARS]) for q in self.benchmark.queries]
            self.encode_all(pairs)

    def signals(self, query: Query, view: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25 and cosine scores of each text slot of `query`, and each slot's candidate."""
        slots = self._slots(query, view)
        if slots.matrix is None:
            slots.matrix = self.encode(slots.embed_texts)
        vector = self.encode([query.text[:EMBED_CHARS]], kind="query")[0]
        return self._bm25_scores(query, view, slots), slots.matrix @ vector, slots.owners

    def scores(self, query: Query, system: str) -> np.ndarray:
        """One score per candidate of `query`, higher is better."""
        if system == "search-engine":
            return -np.asarray([c.ir_rank for c in query.candidates], dtype=np.float64)
        view = "item" if system == "default" else "text"
        if system == "bm25":
            slots = self._slots(query, view)
            values, owners = self._bm25_scores(query, view, slots), slots.owners
        else:
            bm25, cosine, owners = self.signals(query, view)
            if system == "embeddings":
                values = cosine
            elif system == "default":
                values = fuse(bm25, cosine, self.default_weight)
            else:
                values = fuse(bm25, cosine, self.weight)
        best = np.full(len(query.candidates), -np.inf, dtype=np.float64)
        np.maximum.at(best, owners, values.astype(np.float64))
        return best

    def _bm25_scores(self, query: Query, view: str, slots: _Slots) -> np.ndarray:
        if view not in self._corpora:
            texts: dict[str, None] = {}
            for q in self.benchmark.queries:
                texts.update(dict.fromkeys(self._slots(q, view).bm25_texts))
            self._corpora[view] = (BM25(texts), {t: n for n, t in enumerate(texts)})
        model, rows = self._corpora[view]
        if slots.rows is None:
            slots.rows = np.asarray([rows[t] for t in slots.bm25_texts], dtype=np.int64)
        return model.scores(query.text)[slots.rows]

    def _slots(self, query: Query, view: str) -> _Slots:
        key = (view, id(query.candidates))  # StackFAQ queries share one candidate list
        if key not in self._slot_cache:
            slots = _Slots([], [], [])
            for n, candidate in enumerate(query.candidates):
                if view == "item":
                    pairs = [(candidate.item.search_text, candidate.item.embed_text)]
                else:
                    pairs = [(text, text[:EMBED_CHARS]) for text in candidate.texts]
                for bm25_text, embed_text in pairs:
                    slots.bm25_texts.append(bm25_text)
                    slots.embed_texts.append(embed_text)
                    slots.owners.append(n)
            slots.owners = np.asarray(slots.owners, dtype=np.int64)
            self._slot_cache[key] = slots
        return self._slot_cache[key]


@dataclass
class _Slots:
    """The texts one candidate list is matched by: BM25 text, embedded text, owning candidate."""

    bm25_texts: list[str]
    embed_texts: list[str]
    owners: list[int] | np.ndarray
    rows: np.ndarray | None = None
    matrix: np.ndarray | None = None
