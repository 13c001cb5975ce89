"""The interface every destination implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..config import Settings
from ..records import Thread


@dataclass
class Posted:
    """Where a body landed."""

    id: str
    url: str


class Destination(ABC):
    """Posts a body to the thread it belongs to, at most once per marker."""

    name: str = ""

    def __init__(self, settings: Settings):
        self.settings = settings

    @abstractmethod
    def find(self, thread: Thread, marker: str) -> Posted | None:
        """The earlier post that carries `marker`, if any (for idempotent retries)."""

    @abstractmethod
    def post(self, thread: Thread, body: str, internal: bool = False) -> Posted:
        """Post `body` (markdown, in the request body) as a reply on the thread."""
