"""The interface every destination implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..config import Settings
from ..errors import SendError
from ..records import Thread


@dataclass
class Posted:
    """Where a body landed."""

    id: str
    url: str
    body: str | None = None  # the body the destination shows, when it was read back


class Destination(ABC):
    """Posts a body to the thread it belongs to, at most once per marker."""

    name: str = ""
    # Why an internal (team-only) post is refused here; empty when the destination has them.
    no_internal: str = ""

    def __init__(self, settings: Settings):
        self.settings = settings

    @abstractmethod
    def find(self, thread: Thread, marker: str) -> Posted | None:
        """The earlier post that carries `marker`, if any (for idempotent retries)."""

    @abstractmethod
    def post(self, thread: Thread, body: str, internal: bool = False) -> Posted:
        """Post `body` (markdown, in the request body) as a reply on the thread."""

    def update(self, thread: Thread, posted: Posted, body: str) -> Posted:
        """Replace the body of an earlier post (an edited re-send that found the first one)."""
        raise SendError(f"{self.name or type(self).__name__} cannot edit what it posted: "
                        f"edit {posted.url} by hand")

    def own_user(self, thread: Thread) -> str | None:
        """The user name the destination posts as on the thread's host (None if unknown)."""
        return None
