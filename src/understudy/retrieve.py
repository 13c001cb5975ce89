"""Retrievers the Answerer is handed: the workspace's index, or a view of it bounded in time."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .evidence import is_own_post
from .index import Hit, KnowledgeIndex
from .records import Thread
from .store import Store


class Retriever(Protocol):
    """Finds knowledge items for a query, and the threads behind them as the retriever sees
    them (a time-bounded retriever hides the replies written after its moment)."""

    def search(self, query: str, k: int, exclude_threads: set[int] | None = None) -> list[Hit]:
        """The k best items for `query`, best first."""
        ...

    def threads(self, thread_ids: list[int]) -> dict[int, Thread]:
        """The threads of `thread_ids` that exist, by id."""
        ...

    def query_vector(self, query: str) -> np.ndarray | None:
        """The query's embedding when the search already made it, else None."""
        ...


def thread_before(thread: Thread, cutoff: str, bots: frozenset[str] = frozenset()) -> Thread:
    """`thread` with only the messages written before `cutoff` (undated replies dropped), and
    without understudy's own posts."""
    kept = thread.messages[:1] + [m for m in thread.messages[1:]
                                  if m.created_at and m.created_at < cutoff
                                  and not is_own_post(m, bots)]
    return Thread(thread.source, thread.external_id, thread.url, thread.title, thread.state,
                  thread.created_at, thread.updated_at, thread.project, thread.labels, kept,
                  thread.meta, thread.id)


class IndexRetriever:
    """The workspace's knowledge index and store; `before` keeps only what existed then."""

    def __init__(self, index: KnowledgeIndex, store: Store, before: str | None = None):
        self.index = index
        self.store = store
        self.before = before

    def search(self, query: str, k: int, exclude_threads: set[int] | None = None) -> list[Hit]:
        return self.index.search(query, k=k, before=self.before, exclude_threads=exclude_threads)

    def threads(self, thread_ids: list[int]) -> dict[int, Thread]:
        found = self.store.get_threads(thread_ids)
        if self.before:
            return {i: thread_before(t, self.before) for i, t in found.items()}
        return found

    def query_vector(self, query: str) -> np.ndarray | None:
        return self.index.query_vector(query)
