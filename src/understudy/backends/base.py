"""The interface every backend implements: compose a reply from a ticket and its evidence."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..evidence import Evidence
from ..records import Thread

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass
class Composition:
    """What a backend made of a ticket: the text, the evidence it used, and the model."""

    text: str
    used: list[Evidence] = field(default_factory=list)
    model: str = ""
    declined: bool = False  # the backend said it does not know (a generating backend may)


class Backend(ABC):
    """Turns a ticket plus the evidence it is handed (best first, already ranked and masked)
    into a reply. Retrieval, ranking, masking and the decision to abstain are the Answerer's:
    a backend only composes."""

    name: str = ""
    needs_key: bool = False
    key_env_var: str | None = None
    generates: bool = False  # writes new text with a model (and may say "I don't know")
    takes_model: bool = False  # accepts --model

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    @property
    def model_name(self) -> str:
        """The model the backend composes with, for the draft's record."""
        return ""

    @abstractmethod
    def compose(self, ticket: Thread, evidence: list[Evidence]) -> Composition:
        """Compose a reply to `ticket` from `evidence` (best first, never empty)."""
