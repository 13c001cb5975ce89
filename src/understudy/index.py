"""The knowledge index: BM25 fused with embedding cosine over answered threads and passages."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import threading
import zipfile
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .embeddings import Encoder, get_embedder
from .records import Message, Snippet, Thread
from .store import Store
from .store.vectors import MAX_NEAREST
from .text import is_procedural

# Share of the BM25 score in the fused score: 0 is embeddings alone, 1 is BM25 alone. Chosen
# by `understudy eval tune` as the best MAP on SemEval-2016 train-part2 subtask B (79.14),
# checked on dev (77.53 there); see docs/benchmarks.md.
BM25_WEIGHT = 0.15
EMBED_CHARS = 1500  # the model reads at most 256 word pieces; more text only costs time
ENCODE_CHUNK = 1024  # items embedded and saved at a time: progress and resumable work
QUERY_VECTORS = 32  # recent query vectors kept, so the answer ranker reuses the ticket's
# Where the store searches the vectors (PostgreSQL), candidates asked of it per item wanted:
# the nearest by cosine and the best by BM25 (see KnowledgeIndex._cosines_in_store).
CANDIDATES = 8
# A build of at least this many items is saved (items and BM25) so the next process that opens
# the same knowledge loads it instead of rebuilding; smaller ones rebuild in well under a second.
SNAPSHOT_MIN_ITEMS = 2000


@dataclass
class KnowledgeItem:
    """What the answerer can retrieve: an answered thread, a passage or an annotated snippet."""

    key: str  # "thread:ID", "passage:ID" or "snippet:ID"
    kind: str  # "thread", "passage" or "snippet"
    title: str
    question: str  # text matched against a new ticket
    answer: str  # the team's answer (markdown) or the passage text
    url: str
    created_at: str = ""
    thread_id: int | None = None

    @property
    def embed_text(self) -> str:
        return f"{self.title}\n{self.question}"[:EMBED_CHARS]

    @property
    def search_text(self) -> str:
        return f"{self.title}\n{self.question}\n{self.answer}"

    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode()).hexdigest()


@dataclass
class Hit:
    item: KnowledgeItem
    score: float
    cosine: float
    bm25: float


def answer_messages(thread: Thread, extra_patterns: list[str] | None = None) -> list[Message]:
    """The team's substantive replies: no system notes, bots, or procedural one-liners."""
    return [
        m
        for m in thread.messages[1:]
        if m.is_team
        and not m.is_bot
        and m.kind == "reply"
        and m.text.strip()
        and not is_procedural(m.text, extra_patterns)
    ]


def thread_item(thread: Thread, extra_patterns: list[str] | None = None) -> KnowledgeItem | None:
    """The knowledge item of an answered thread, or None if no team reply answers it."""
    replies = answer_messages(thread, extra_patterns)
    if not replies or thread.id is None:
        return None
    question = thread.messages[0].text if thread.messages else ""
    return KnowledgeItem(
        key=f"thread:{thread.id}",
        kind="thread",
        title=thread.title,
        question=question,
        answer="\n\n".join(m.body.strip() for m in replies),
        url=thread.url,
        created_at=thread.created_at,
        thread_id=thread.id,
    )


def snippet_item(snippet: Snippet) -> KnowledgeItem:
    """The knowledge item of an annotated snippet: found by its note, read as note and code."""
    note = snippet.note.strip()
    return KnowledgeItem(
        key=f"snippet:{snippet.id}",
        kind="snippet",
        title=snippet.qualified_name,
        question=f"{note}\n\n{snippet.docstring}".strip(),
        answer=f"{note}\n\n{snippet.code}".strip(),
        url=f"{snippet.path}#L{snippet.start_line}",
    )


_TOKEN = re.compile(r"[a-z0-9]+(?:['_.-][a-z0-9]+)*")


@cache
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # stemming helps BM25 but is not required
        return None


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


_STEMS: dict[str, str] = {}  # word -> its stem, "" for a stopword
_STEMS_MAX = 500_000


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens without English stopwords, stemmed; the BM25 vocabulary."""
    stems, out = _STEMS, []
    for word in _TOKEN.findall(text.lower()):
        stem = stems.get(word)
        if stem is None:
            stem = _stem(word)
        if stem:
            out.append(stem)
    return out


def _stem(word: str) -> str:
    """A word's stem, remembered: a vocabulary repeats, and a lookup is cheaper than stemming."""
    if len(_STEMS) >= _STEMS_MAX:
        _STEMS.clear()
    stemmer = _stemmer()
    stem = "" if word in _stopwords() else stemmer.stemWord(word) if stemmer else word
    _STEMS[word] = stem
    return stem


class BM25:
    """bm25s over pre-tokenised texts, scoring every document for a query."""

    model: Any

    def __init__(self, texts: Iterable[str]):
        # Token ids are assigned while tokenising, so the corpus is held as compact int arrays
        # rather than millions of token strings; bm25s scores the same (doc, token) pairs.
        vocab: dict[str, int] = {}
        corpus = [
            array("i", [vocab.setdefault(w, len(vocab)) for w in tokenize(t) or ["\x00"]])
            for t in texts
        ]
        self.size = len(corpus)
        import bm25s  # its scipy import costs half a second to commands that never search

        self.model = bm25s.BM25()
        if corpus:
            self.model.index((corpus, vocab), show_progress=False)

    def to_bytes(self) -> bytes:
        """The model as bm25s saves it (its arrays and vocabulary), in one zip."""
        with tempfile.TemporaryDirectory() as folder:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as packed:
                packed.writestr("size", str(self.size))
                if self.size:
                    self.model.save(folder)
                    for path in sorted(Path(folder).iterdir()):
                        packed.write(path, path.name)
            return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> BM25:
        import bm25s

        bm25 = cls.__new__(cls)
        with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(io.BytesIO(data)) as packed:
            bm25.size = int(packed.read("size"))
            packed.extractall(folder)
            bm25.model = bm25s.BM25.load(folder) if bm25.size else bm25s.BM25()
        return bm25

    def scores(self, query: str) -> np.ndarray:
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        tokens = [t for t in tokenize(query) if t in self.model.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)


def fuse(bm25: np.ndarray, cosine: np.ndarray, weight: float = BM25_WEIGHT) -> np.ndarray:
    """Weighted sum of cosine and BM25 scaled to [0, 1] by the best BM25 score of the query."""
    top = float(bm25.max()) if bm25.size else 0.0
    scaled = bm25 / top if top > 0 else bm25
    return weight * scaled + (1.0 - weight) * cosine


@dataclass
class IndexStats:
    items: int
    embedded: int
    reused: int
    removed: int


class _Loaded:
    """One build of the index: the items, their vectors (None where the store searches them),
    columns for filtering without a Python loop per query, and the BM25 model (made on the
    first search)."""

    def __init__(self, items: list[KnowledgeItem], matrix: np.ndarray | None,
                 rows: dict[str, int] | None = None):
        self.items, self.matrix = items, matrix
        self.rows = rows if rows is not None else {item.key: row for row, item in enumerate(items)}
        self.created = np.array([i.created_at for i in items], dtype=str)
        self.thread_ids = np.array([i.thread_id or -1 for i in items], dtype=np.int64)
        self.kinds = np.array([i.kind for i in items], dtype=str)
        self.keys = np.array([i.key for i in items], dtype=str)
        self.bm25: BM25 | None = None


class KnowledgeIndex:
    """All knowledge items of a store, kept in memory with their BM25 model; embeddings cached
    in the store, and searched there too when the store can (PostgreSQL), else in memory."""

    def __init__(self, store: Store, embedder: Encoder | None = None, weight: float = BM25_WEIGHT):
        self.store = store
        self._embedder = embedder
        self.weight = weight
        self._state = _Loaded([], np.zeros((0, 0), dtype=np.float32))
        self._loaded = False
        self._bm25_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._fingerprint: tuple | None = None  # the store's knowledge when last built
        self.extra_patterns: list[str] = []
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()  # searches run on many server threads

    @property
    def embedder(self) -> Encoder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def use_encoder(self, encoder: Encoder) -> None:
        """Encode with `encoder` from now on (the server's, or one that counts its work). A build
        made with another model is dropped: the next search builds with `encoder`'s vectors."""
        if self._embedder is not None and self._embedder.name != encoder.name:
            self._loaded = False
        self._embedder = encoder
        with self._query_lock:
            self._query_vectors.clear()  # encoded by the previous encoder

    @property
    def ready(self) -> bool:
        return self._loaded

    @property
    def items(self) -> list[KnowledgeItem]:
        return self._state.items

    @property
    def matrix(self) -> np.ndarray | None:
        """Every item's vector, one row each; None where the store searches the vectors."""
        return self._state.matrix

    @property
    def bm25(self) -> BM25:
        return self._bm25_of(self._state)

    def _bm25_of(self, state: _Loaded) -> BM25:
        """The BM25 model of the items, made on the first search: `understudy index` never
        searches, and tokenising every item is most of an up-to-date index's run."""
        with self._bm25_lock:
            if state.bm25 is None:
                state.bm25 = BM25(i.search_text for i in state.items)
            return state.bm25

    def stale(self) -> bool:
        """Whether the store's knowledge changed since the last build (another process synced
        or removed threads, pages or code)."""
        return self._loaded and self.store.knowledge_fingerprint() != self._fingerprint

    def refresh(self) -> bool:
        """Build again if the store changed; searches meanwhile use the previous build, and
        only one refresh runs at a time. True if it rebuilt."""
        if not self.stale() or not self._build_lock.acquire(blocking=False):
            return False
        try:
            if not self.stale():
                return False
            self.build()
            return True
        finally:
            self._build_lock.release()

    def _signature(self, fingerprint: tuple) -> str:
        """What a build's items and BM25 depend on: the stored knowledge, the reply patterns,
        and the code that turns threads into items (a new version never reads an old build)."""
        code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
        return json.dumps([__version__, code, list(fingerprint), self.extra_patterns],
                          default=str)

    def _load_snapshot(self, model: str, signature: str) -> tuple[list[KnowledgeItem], BM25] | None:
        saved = self.store.index_snapshot(model, signature)
        if saved is None:
            return None
        try:
            rows = json.loads(zlib.decompress(saved[0]))
            return [KnowledgeItem(*row) for row in rows], BM25.from_bytes(saved[1])
        except (ValueError, TypeError, OSError, zlib.error, zipfile.BadZipFile, KeyError):
            return None  # unreadable: build from the store, and save a good one

    def _save_snapshot(self, model: str, signature: str, state: _Loaded) -> None:
        rows = [[i.key, i.kind, i.title, i.question, i.answer, i.url, i.created_at, i.thread_id]
                for i in state.items]
        items = zlib.compress(json.dumps(rows, ensure_ascii=False).encode(), 1)
        self.store.put_index_snapshot(model, signature, items,
                                      self._bm25_of(state).to_bytes())

    def collect(self) -> list[KnowledgeItem]:
        """Every knowledge item in the store: answered threads, passages, annotated snippets."""
        items = []
        for thread in self.store.answered_threads():
            item = thread_item(thread, self.extra_patterns)
            if item:
                items.append(item)
        for passage in self.store.passages():
            items.append(
                KnowledgeItem(
                    key=f"passage:{passage.id}",
                    kind="passage",
                    title=passage.heading or passage.path,
                    question=passage.text,
                    answer=passage.text,
                    url=passage.url or passage.path,
                )
            )
        for snippet in self.store.snippets(with_note=True):
            if snippet.note.strip():
                items.append(snippet_item(snippet))
        return items

    def build(
        self, rebuild: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> IndexStats:
        """Embed what is new or changed, drop what is gone, and load everything for search."""
        model = self.embedder.name
        fingerprint = self.store.knowledge_fingerprint()  # before reading: a later change shows
        signature = self._signature(fingerprint)
        saved = None if rebuild else self._load_snapshot(model, signature)
        items = saved[0] if saved else self.collect()
        known = {} if rebuild else self.store.embedding_hashes(model)
        rows = {item.key: row for row, item in enumerate(items)}
        removed = [k for k in known if k not in rows]
        if rebuild:
            self.store.db.execute("DELETE FROM embeddings WHERE model = ?", (model,))
            self.store.db.commit()
        elif removed:
            self.store.delete_embeddings(model, removed)
        hashes = [item.content_hash() for item in items]
        todo = [row for row, item in enumerate(items) if known.get(item.key) != hashes[row]]
        # Texts of similar length share a batch, so little of each batch is padding.
        todo.sort(key=lambda row: len(items[row].embed_text), reverse=True)
        in_store = self.store.searches_vectors
        matrix = None if in_store else np.zeros((len(items), self.embedder.dim), np.float32)
        for start in range(0, len(todo), ENCODE_CHUNK):
            chunk = todo[start : start + ENCODE_CHUNK]
            vectors = self.embedder.encode([items[row].embed_text for row in chunk])
            if matrix is not None:
                matrix[chunk] = vectors
            self.store.put_embeddings(model, [
                (items[row].key, hashes[row], vector.tobytes())
                for row, vector in zip(chunk, vectors, strict=True)
            ])
            if progress:
                progress(min(start + ENCODE_CHUNK, len(todo)), len(todo))
        if matrix is None:
            self.store.prepare_vector_search(model, self.embedder.dim)
        else:
            fresh = set(todo)
            # Stream the stored vectors into the matrix rather than holding every blob at once.
            for key, blob in self.store.embedding_vectors(model):
                row = rows.get(key)
                if row is not None and row not in fresh:
                    matrix[row] = np.frombuffer(blob, dtype=np.float32)
        state = _Loaded(items, matrix, rows)
        if saved:
            state.bm25 = saved[1]
        elif len(items) >= SNAPSHOT_MIN_ITEMS:
            self._save_snapshot(model, signature, state)
        # One assignment: a search running meanwhile reads the previous build whole.
        self._state = state
        self._fingerprint, self._loaded = fingerprint, True
        return IndexStats(len(items), len(todo), len(items) - len(todo), len(removed))

    def query_vector(self, query: str) -> np.ndarray:
        """The embedding of `query`, encoded once for a search and whatever ranks its hits."""
        with self._query_lock:
            vector = self._query_vectors.get(query)
            if vector is not None:
                self._query_vectors.move_to_end(query)
                return vector
        vector = self.embedder.encode([query], kind="query")[0]
        with self._query_lock:
            self._query_vectors[query] = vector
            if len(self._query_vectors) > QUERY_VECTORS:
                self._query_vectors.popitem(last=False)
        return vector

    def search(
        self,
        query: str,
        k: int = 5,
        before: str | None = None,
        exclude_threads: set[int] | None = None,
        kinds: set[str] | None = None,
        exclude_keys: set[str] | None = None,
    ) -> list[Hit]:
        """The k best items for `query`; `before` keeps only items created earlier (ISO time)."""
        if not self.ready:
            self.build()
        state = self._state
        if not state.items:
            return []
        vector = self.query_vector(query)
        bm25 = self._bm25_of(state).scores(query)
        allowed = None
        if before or exclude_threads or kinds or exclude_keys:
            allowed = np.ones(len(state.items), dtype=bool)
            if before:
                allowed &= (state.created != "") & (state.created < before)
            if exclude_threads:
                allowed &= ~np.isin(state.thread_ids, list(exclude_threads))
            if kinds:
                allowed &= np.isin(state.kinds, list(kinds))
            if exclude_keys:
                allowed &= ~np.isin(state.keys, list(exclude_keys))
        k = min(k, len(state.items))
        if state.matrix is None:
            cosine = self._cosines_in_store(state, vector, bm25, allowed, k)
        else:
            cosine = state.matrix @ vector
        fused = self._fused(bm25, cosine, allowed)
        top = np.argpartition(-fused, k - 1)[:k]
        top = top[np.argsort(-fused[top], kind="stable")]
        return [
            Hit(state.items[i], float(fused[i]), float(cosine[i]), float(bm25[i]))
            for i in top
            if np.isfinite(fused[i])
        ]

    def _fused(self, bm25: np.ndarray, cosine: np.ndarray,
               allowed: np.ndarray | None) -> np.ndarray:
        """Fused scores of every item, -inf for those the search leaves out."""
        if allowed is None:
            return fuse(bm25, cosine, self.weight)
        # BM25 is scaled by the best score among the items allowed, so a search without
        # some items scores as if they were not in the index at all.
        return np.where(allowed, fuse(np.where(allowed, bm25, 0.0), cosine, self.weight),
                        -np.inf)

    def _cosines_in_store(self, state: _Loaded, vector: np.ndarray, bm25: np.ndarray,
                          allowed: np.ndarray | None, k: int) -> np.ndarray:
        """Cosines, from the store, of every item that can be among the k best fused; -inf for
        the others.

        The candidates are the n nearest by cosine (the store's HNSW index) and the n best by
        BM25, each with its exact cosine. An item in neither list scores at most the fused
        score of the n-th cosine and the n-th BM25 score; when the k-th best candidate reaches
        that bound, no other item can enter the top k (the threshold algorithm). Otherwise n
        grows, up to an exact search of every item.
        """
        model, dim, size = self.embedder.name, self.embedder.dim, len(state.items)
        usable = np.ones(size, dtype=bool) if allowed is None else allowed
        lexical = np.where(usable, bm25, 0.0)
        best = float(lexical.max()) if size else 0.0
        n = CANDIDATES * k
        while True:
            cosine = np.full(size, -np.inf, dtype=np.float32)
            exact = n >= min(size, MAX_NEAREST)
            found = self.store.cosines(model, vector) if exact else \
                self.store.nearest(model, dim, vector, n)
            for key, value in found:
                row = state.rows.get(key)
                if row is not None:
                    cosine[row] = value
            if exact:
                return cosine
            if len(found) < n:  # the graph gave fewer than asked: search every item instead
                n = size
                continue
            ranked = np.flatnonzero(usable)
            if len(ranked) > n:
                ranked = ranked[np.argpartition(-lexical[ranked], n - 1)[:n]]
            missing = [row for row in ranked if cosine[row] == -np.inf]
            if missing:
                for key, value in self.store.cosines(model, vector,
                                                     [state.items[r].key for r in missing]):
                    cosine[state.rows[key]] = value
            if len(ranked) == usable.sum():  # every item allowed is a candidate
                return cosine
            floor = float(lexical[ranked].min()) / best if best > 0 else 0.0
            bound = self.weight * floor + (1.0 - self.weight) * found[-1][1]
            fused = self._fused(bm25, cosine, allowed)
            kth = np.partition(fused, size - k)[size - k]
            if kth >= bound:
                return cosine
            n *= 4
