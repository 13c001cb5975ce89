"""Nearest knowledge items by cosine, searched in the database (PostgreSQL with pgvector).

On PostgreSQL every embedding row keeps its bytes and a `vector` copy of them (migration
m014_vector_search); each embedding model the index searches gets a partial HNSW index
(cosine) over its rows, cast to its dimension, so models of different sizes share the table.
On SQLite `searches_vectors` is False and the knowledge index searches a matrix in its own
memory.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import numpy as np

FILL_BATCH = 2000
# Candidates the HNSW search keeps while walking the graph (pgvector's default is 40; at most
# 1000). Chosen so that the index's answers match an exact search on benchmarks/stores.py.
EF_SEARCH = 200
MAX_NEAREST = 1000  # the most rows one HNSW search returns (pgvector's ef_search limit)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class VectorQueries:
    """Vector search in the store; mixed into Store, which owns `db`, `lock` and `dialect`."""

    db: Any
    lock: threading.RLock
    dialect: str

    @property
    def searches_vectors(self) -> bool:
        """Whether the store searches vectors itself (PostgreSQL) rather than the index."""
        return self.dialect == "postgresql"

    def prepare_vector_search(self, model: str, dim: int) -> int:
        """Copy into the searched column the vectors of `model` it lacks (new, changed, or
        brought by `db copy`), and make the model's HNSW index; returns how many were copied."""
        from .locks import named_lock

        width, copied = dim * 4, 0
        while rows := self.db.execute(
            "SELECT item_key, vector FROM embeddings WHERE model = ? AND embedding IS NULL"
            " AND LENGTH(vector) = ? LIMIT ?", (model, width, FILL_BATCH)
        ).fetchall():
            with self.lock, self.db:
                self.db.executemany(
                    "UPDATE embeddings SET embedding = ? WHERE model = ? AND item_key = ?",
                    [(np.frombuffer(blob, dtype=np.float32), model, key) for key, blob in rows],
                )
            copied += len(rows)
        if copied:  # fresh statistics, or the planner may scan every row instead of the index
            self.db.execute("ANALYZE embeddings")
        name = "embeddings_hnsw_" + hashlib.sha256(model.encode()).hexdigest()[:16]
        if self.db.execute("SELECT 1 FROM pg_class WHERE relname = ?", (name,)).fetchone():
            return copied
        with named_lock(self, name):  # two workers starting at once build it once
            with self.lock, self.db:
                # A build that fits in memory is many times faster than one that spills.
                self.db.execute("SET LOCAL maintenance_work_mem = '512MB'")
                self.db.execute(
                    f"CREATE INDEX IF NOT EXISTS {name} ON embeddings USING hnsw"
                    f" ((embedding::vector({dim})) vector_cosine_ops)"
                    f" WHERE model = {_literal(model)}"
                )
        return copied

    def nearest(self, model: str, dim: int, vector: np.ndarray,
                limit: int) -> list[tuple[str, float]]:
        """(item key, cosine) of up to `limit` (at most MAX_NEAREST) items of `model` nearest
        to `vector`, best first, by the model's HNSW index (approximate)."""
        limit = min(limit, MAX_NEAREST)
        with self.lock, self.db:
            self.db.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, limit)}")
            # The model is a literal, so the planner can match the index's WHERE clause.
            rows = self.db.execute(
                f"SELECT item_key, embedding::vector({dim}) <=> ? AS distance FROM embeddings"
                f" WHERE model = {_literal(model)} ORDER BY distance LIMIT ?", (vector, limit),
            ).fetchall()
        return [(key, 1.0 - distance) for key, distance in rows]

    def cosines(self, model: str, vector: np.ndarray,
                keys: list[str] | None = None) -> list[tuple[str, float]]:
        """(item key, cosine) of the items of `model` named by `keys` (None: every item),
        computed exactly."""
        sql = ("SELECT item_key, 1 - (embedding <=> ?) FROM embeddings"
               " WHERE model = ? AND embedding IS NOT NULL")
        params: list[Any] = [vector, model]
        if keys is not None:
            sql, params = sql + " AND item_key = ANY(?)", [*params, keys]
        return [(key, cosine) for key, cosine in self.db.execute(sql, params).fetchall()]
