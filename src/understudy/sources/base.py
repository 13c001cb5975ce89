"""The interface every source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from ..config import Settings
from ..records import Passage, Snippet, Thread
from ..store import Store


class Source(ABC):
    """Reads one kind of place and yields threads, passages or snippets; the caller stores them."""

    name: str = ""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store  # read for cursors and team lists; records are yielded, not written
        self.skipped = 0
        self.problems: list[str] = []

    @abstractmethod
    def fetch(self, **options: Any) -> Iterator[Thread | Passage | Snippet]:
        """Yield every record that changed since the last sync."""

    @classmethod
    def handles_url(cls, url: str) -> bool:
        """Whether `url` names one ticket of this source (for `understudy add URL`)."""
        return False

    def fetch_url(self, url: str) -> Thread:
        """The one ticket that `url` names, with all its messages."""
        raise NotImplementedError
