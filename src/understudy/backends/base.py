"""The interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..records import Thread

if TYPE_CHECKING:
    from ..index import Hit
    from ..workspace import Workspace


@dataclass
class Reply:
    """What a backend made of a ticket: text, confidence, and the sources it used."""

    text: str
    model: str
    confidence: float
    abstained: bool = False
    used: list[Hit] = field(default_factory=list)


class Backend(ABC):
    """Turns a ticket plus retrieved knowledge into a reply."""

    name: str = ""
    needs_key: bool = False
    key_env_var: str | None = None

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    @abstractmethod
    def reply(self, ticket: Thread, hits: list[Hit], threshold: float) -> Reply:
        """Draft a reply to `ticket` from `hits` (best first); abstain below `threshold`."""
